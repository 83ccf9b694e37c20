import Testing

@testable import Chaincode

@Suite struct ClientIdentityTests {
    private func identity(_ id: String, msp: String = "HospitalAMSP") -> ClientIdentity {
        ClientIdentity(id: id, mspID: msp, role: "client", attributes: [:])
    }

    @Test func commonNameAndPersonIDFromTheSubject() {
        let doctor = identity("x509::CN=dr-carter,OU=client,O=hospital-a.test::CN=ca.hospital-a.test,O=hospital-a.test")
        #expect(doctor.commonName == "dr-carter")
        #expect(doctor.personID == "HospitalAMSP/dr-carter")
        // The CN need not come first, and the issuer's CN is never taken.
        let later = identity("x509::OU=client+OU=nurse,CN=nurse.kim,O=b::CN=ca.b", msp: "HospitalBMSP")
        #expect(later.commonName == "nurse.kim")
        #expect(later.personID == "HospitalBMSP/nurse.kim")
        // Fabric's slash-separated form.
        #expect(identity("x509::/C=US/O=Org1/CN=user1::/C=US/CN=ca.org1").commonName == "user1")
    }

    @Test func noCommonNameGivesNil() {
        #expect(identity("x509::OU=client,O=a::CN=ca.a").commonName == nil)
        #expect(identity("x509::OU=client,O=a::CN=ca.a").personID == nil)
        #expect(identity("CN=dr-carter").commonName == nil)
        #expect(identity("x509::CN=dr-carter").commonName == nil, "no issuer part")
        #expect(identity("x509::CN=,O=a::CN=ca").commonName == nil)
    }
}
