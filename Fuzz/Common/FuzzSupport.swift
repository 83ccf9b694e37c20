// Shared by every fuzz target (compiled into each fuzz binary, see Fuzz/README.md): input
// helpers, a deterministic test PKI, seed writing and a blocking bridge for async package APIs.
import BuiltInChaincodes
import Chaincode
import Crypto
import Dispatch
import Foundation
import Identity
import LedgerCore
import LedgerWire
import SwiftProtobuf
import X509

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Input

/// The fuzzer's bytes as `Data` (copied: the harness may keep them).
func fuzzData(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Data {
    guard let data, size > 0 else { return Data() }
    return Data(bytes: data, count: size)
}

/// Reads fields off the front of the fuzzer's bytes; runs out gracefully (zeros, empty).
struct FuzzReader {
    private let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: some Sequence<UInt8>) { self.bytes = Array(bytes) }

    var isAtEnd: Bool { offset >= bytes.count }
    var rest: [UInt8] { offset < bytes.count ? Array(bytes[offset...]) : [] }

    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// Bytes up to (not including) `separator`, consuming the separator; the rest when absent.
    mutating func until(_ separator: UInt8) -> [UInt8] {
        guard offset < bytes.count else { return [] }
        let end = bytes[offset...].firstIndex(of: separator) ?? bytes.count
        defer { offset = min(end + 1, bytes.count) }
        return Array(bytes[offset..<end])
    }
}

// MARK: - A deterministic PKI

/// A test PKI whose keys are fixed (derived from labels), so that inputs signed in one process
/// (seeds, crash files) verify in another. Certificates are re-issued at start-up by CAs with the
/// same keys, subjects and validity, so a certificate inside a saved input still chains to the
/// root this process trusts (only certificate serial numbers differ between processes: a saved
/// input carrying the revoked test identity is not revoked in another process).
enum FuzzPKI {
    /// Same epoch as Tests/TestSupport's TestPKI: 2026-09-21.
    static let epoch = Date(timeIntervalSince1970: 1_790_000_000)
    /// A time inside every fixed certificate's validity: the clock of every check.
    static let now = epoch.addingTimeInterval(86_400)
    static let channel = "healthchannel"

    /// A fixed P-256 key: SHA-256 of the label as its scalar.
    static func key(_ label: String) -> P256.Signing.PrivateKey {
        let scalar = Data(SHA256.hash(data: Data("medrex-fuzz/\(label)".utf8)))
        do {
            return try P256.Signing.PrivateKey(rawRepresentation: scalar)
        } catch {
            fuzzSetupFailure("fixed key '\(label)': \(error)")
        }
    }
}

/// One organization of the fixed PKI: a root CA (and for HospitalA an intermediate CA), its
/// identities by name and its MSP.
struct FuzzOrganization: Sendable {
    let mspID: String
    let root: CertificateAuthority
    let intermediate: CertificateAuthority?
    let identities: [String: SigningIdentity]
    let revocationList: CertificateRevocationList?
    let msp: MembershipServiceProvider

    /// `members`: name → (NodeOU, attributes, issued by the intermediate CA).
    init(mspID: String, domain: String, members: [(String, String, [String: String], Bool)], revoke: [String] = [], withIntermediate: Bool = false) {
        do {
            self.mspID = mspID
            let validUntil = FuzzPKI.epoch.addingTimeInterval(365 * 86_400)
            root = try CertificateAuthority.makeRoot(
                commonName: "ca.\(domain)", organization: domain, notValidBefore: FuzzPKI.epoch, notValidAfter: validUntil,
                privateKey: FuzzPKI.key("\(mspID)/ca"))
            intermediate = withIntermediate
                ? try root.issueIntermediate(
                    commonName: "ica.\(domain)", notValidBefore: FuzzPKI.epoch, notValidAfter: validUntil, privateKey: FuzzPKI.key("\(mspID)/ica"))
                : nil
            var identities: [String: SigningIdentity] = [:]
            for (name, unit, attributes, viaIntermediate) in members {
                let key = FuzzPKI.key("\(mspID)/\(name)")
                let issuer = viaIntermediate ? (intermediate ?? root) : root
                let certificate = try issuer.issue(CertificateRequest(
                    commonName: name, organizationalUnits: [unit], publicKey: key.publicKey, usage: .signing, attributes: attributes,
                    notValidBefore: FuzzPKI.epoch, notValidAfter: FuzzPKI.epoch.addingTimeInterval(30 * 86_400)))
                identities[name] = try SigningIdentity(mspID: mspID, certificate: certificate, privateKey: key)
            }
            self.identities = identities
            let revoked = revoke.compactMap { identities[$0]?.certificate.serialNumber }
            revocationList = revoked.isEmpty
                ? nil : try root.revocationList(revoking: revoked, thisUpdate: FuzzPKI.epoch, nextUpdate: validUntil)
            msp = try MembershipServiceProvider(MSPConfiguration(
                mspID: mspID, rootCertificates: [root.certificate], intermediateCertificates: intermediate.map { [$0.certificate] } ?? [],
                revocationLists: revocationList.map { [$0] } ?? []))
        } catch {
            fuzzSetupFailure("organization \(mspID): \(error)")
        }
    }

    subscript(_ name: String) -> SigningIdentity {
        guard let identity = identities[name] else { fuzzSetupFailure("no fixed identity '\(name)' in \(mspID)") }
        return identity
    }
}

/// The fixed network: two hospitals and an orderer organization.
enum FuzzNetwork {
    static let hospitalA = FuzzOrganization(
        mspID: "HospitalAMSP", domain: "hospital-a.test",
        members: [
            ("peer0", "peer", [:], false),
            ("peer1", "peer", [:], false),
            ("admin", "admin", [:], false),
            ("dr-carter", "client", ["role": "consulting_doctor", "specialty": "cardiology"], false),
            ("dr-shah", "client", ["is_supervisor": "true", "role": "consulting_doctor", "specialty": "cardiology"], false),
            ("student-sam", "client", ["role": "md_student", "is_trainee": "true"], false),
            ("pat-ana", "client", ["role": "patient"], false),
            ("op-a", "client", ["role": "operator"], false),
            ("auditor-ada", "client", ["role": "auditor"], false),
            ("nurse-ng", "client", ["role": "nurse", "ward_assignment": "cardio-3"], true),
            ("revoked", "client", ["role": "nurse"], false),
        ],
        revoke: ["revoked"], withIntermediate: true)
    static let hospitalB = FuzzOrganization(
        mspID: "HospitalBMSP", domain: "hospital-b.test",
        members: [
            ("peer0", "peer", [:], false),
            ("admin", "admin", [:], false),
            ("lab-lee", "client", ["role": "lab_technician", "lab_org": "HospitalBMSP"], false),
        ])
    static let orderers = FuzzOrganization(
        mspID: "OrdererMSP", domain: "orderer.test", members: [("orderer0", "orderer", [:], false), ("admin", "admin", [:], false)])

    static let organizations = [hospitalA, hospitalB, orderers]
    /// The application organizations' MSPs (what peers of the channel trust for transactions).
    static let applicationMembership = MembershipRegistry([hospitalA.msp, hospitalB.msp])
    static let ordererMembership = MembershipRegistry([orderers.msp])

    /// Every fixed identity by its serialized form, to re-sign as whoever an input names.
    static let signers: [Data: SigningIdentity] = {
        var signers: [Data: SigningIdentity] = [:]
        for organization in organizations {
            for identity in organization.identities.values { signers[Data(identity.serialized)] = identity }
        }
        return signers
    }()

    /// Every fixed identity, in a stable order (for picking one by a fuzzer byte).
    static let allIdentities: [SigningIdentity] = organizations.flatMap { organization in
        organization.identities.keys.sorted().map { organization.identities[$0]! }
    }
}

/// Fabric's recorded vectors (Tests/Fixtures/fabric-vectors): Org1's and the orderer org's CAs.
enum FabricVectorPKI {
    /// Inside the validity of every recorded certificate (2026-11-25 .. 2036-11-22).
    static let recordedAt = Date(timeIntervalSince1970: 1_800_000_000)

    static func certificate(_ directory: URL, _ name: String) -> Certificate? {
        guard let text = try? String(contentsOf: directory.appendingPathComponent("msp/\(name)"), encoding: .utf8) else { return nil }
        return try? Certificate(pemEncoded: text)
    }

    /// Org1MSP and OrdererMSP of the recorded network, when the vectors are found.
    static func providers(_ directory: URL) -> (org1: MembershipServiceProvider, orderer: MembershipServiceProvider)? {
        guard let org1 = certificate(directory, "org1-ca.pem"), let orderer = certificate(directory, "orderer-org-ca.pem"),
            let org1MSP = try? MembershipServiceProvider(MSPConfiguration(mspID: "Org1MSP", rootCertificates: [org1])),
            let ordererMSP = try? MembershipServiceProvider(MSPConfiguration(mspID: "OrdererMSP", rootCertificates: [orderer]))
        else { return nil }
        return (org1MSP, ordererMSP)
    }
}

/// Where Fabric's recorded vectors are: $MEDREX_FUZZ_VECTORS, else Tests/Fixtures/fabric-vectors
/// found from the working directory upwards (fuzz.sh runs from the package root).
func fabricVectorsDirectory() -> URL? {
    let fileManager = FileManager.default
    if let path = ProcessInfo.processInfo.environment["MEDREX_FUZZ_VECTORS"], fileManager.fileExists(atPath: path) {
        return URL(fileURLWithPath: path)
    }
    var directory = URL(fileURLWithPath: fileManager.currentDirectoryPath)
    for _ in 0..<6 {
        let candidate = directory.appendingPathComponent("Tests/Fixtures/fabric-vectors")
        if fileManager.fileExists(atPath: candidate.appendingPathComponent("manifest.json").path) { return candidate }
        directory.deleteLastPathComponent()
    }
    return nil
}

// MARK: - Seeds

/// In LLVMFuzzerInitialize: when $MEDREX_FUZZ_WRITE_SEEDS names a directory, writes the target's
/// generated seeds there (file name → bytes) and exits; otherwise returns.
func writeSeedsIfAsked(_ make: () throws -> [(name: String, bytes: Data)]) {
    guard let path = ProcessInfo.processInfo.environment["MEDREX_FUZZ_WRITE_SEEDS"], !path.isEmpty else { return }
    do {
        let directory = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let seeds = try make()
        for seed in seeds { try seed.bytes.write(to: directory.appendingPathComponent(seed.name)) }
        FileHandle.standardError.write(Data("wrote \(seeds.count) seeds to \(path)\n".utf8))
        exit(0)
    } catch {
        fuzzSetupFailure("writing seeds: \(error)")
    }
}

/// Envelopes of Fabric's recorded blocks, for seeds.
func fabricEnvelopes(limit: Int = 8) -> [(name: String, bytes: Data)] {
    guard let directory = fabricVectorsDirectory() else { return [] }
    var seeds: [(String, Data)] = []
    for number in [0, 1, 2, 3, 4, 8381] {
        guard let bytes = try? Data(contentsOf: directory.appendingPathComponent("peer-block-\(number).pb")),
            let block = try? Common_Block(serializedBytes: bytes)
        else { continue }
        for (index, envelope) in block.data.data.prefix(limit).enumerated() { seeds.append(("fabric-block\(number)-tx\(index)", envelope)) }
    }
    return seeds
}

// MARK: - Synthetic signed transactions

/// An endorser transaction signed with the fixed keys, the way clients and endorsers build them
/// (as Tests/PeerTests' ValidationFixture does).
struct SignedTransactionSpec {
    var channel = FuzzPKI.channel
    var chaincode = "cc"
    var version = "1.0"
    var creator = FuzzNetwork.hospitalA["dr-carter"]
    var endorsers = [FuzzNetwork.hospitalA["peer0"]]
    var reads: [(String, (UInt64, UInt64)?)] = []
    var writes: [(String, [UInt8]?)] = []
    var metadataWrites: [(String, [String: [UInt8]])] = []
    var range: (start: String, end: String, keys: [(String, UInt64, UInt64)])? = nil
    var arguments: [String] = ["put", "a", "1"]
    var timestamp = FuzzPKI.now
    var nonce: [UInt8] = Array(0..<24)

    func envelope() throws -> Common_Envelope {
        var builder = EndorserTransactionBuilder(
            channelID: channel, chaincodeName: chaincode, creator: Data(creator.serialized), nonce: Data(nonce), timestamp: timestamp)
        builder.chaincodeVersion = version
        builder.arguments = arguments.map { Data($0.utf8) }
        var set = Kvrwset_KVRWSet()
        set.reads = reads.map { key, version in
            var read = Kvrwset_KVRead()
            read.key = key
            if let version { read.version.blockNum = version.0; read.version.txNum = version.1 }
            return read
        }
        set.writes = writes.map { key, value in
            var write = Kvrwset_KVWrite()
            write.key = key
            if let value { write.value = Data(value) } else { write.isDelete = true }
            return write
        }
        set.metadataWrites = metadataWrites.map { key, entries in
            var write = Kvrwset_KVMetadataWrite()
            write.key = key
            write.entries = entries.sorted { $0.key < $1.key }.map { name, value in
                var entry = Kvrwset_KVMetadataEntry()
                entry.name = name
                entry.value = Data(value)
                return entry
            }
            return write
        }
        if let range {
            var info = Kvrwset_RangeQueryInfo()
            info.startKey = range.start
            info.endKey = range.end
            info.itrExhausted = true
            info.rawReads.kvReads = range.keys.map { key, block, tx in
                var read = Kvrwset_KVRead()
                read.key = key
                read.version.blockNum = block
                read.version.txNum = tx
                return read
            }
            set.rangeQueriesInfo = [info]
        }
        builder.readWriteSets = [(chaincode, set)]
        let responsePayload = try builder.proposalResponsePayload()
        builder.endorsements = try endorsers.map { endorser in
            var endorsement = Protos_Endorsement()
            endorsement.endorser = Data(endorser.serialized)
            endorsement.signature = Data(try endorser.sign(responsePayload + endorser.serialized))
            return endorsement
        }
        return try builder.envelope { Data(try creator.sign($0)) }
    }
}

// MARK: - Async bridge

private final class ResultBox<Value>: @unchecked Sendable {
    var value: Value?
}

/// Runs `body` on the concurrency runtime and waits for it (LLVMFuzzerTestOneInput is synchronous).
func runBlocking<Value: Sendable>(_ body: @escaping @Sendable () async -> Value) -> Value {
    let box = ResultBox<Value>()
    let done = DispatchSemaphore(value: 0)
    Task {
        box.value = await body()
        done.signal()
    }
    done.wait()
    return box.value!
}

// MARK: - Failures of the harness itself

/// The harness could not set itself up (not a finding): says why and exits with status 2.
func fuzzSetupFailure(_ message: String) -> Never {
    FileHandle.standardError.write(Data("fuzz harness setup failed: \(message)\n".utf8))
    exit(2)
}

/// Whether documented invariants are checked (MEDREX_FUZZ_ORACLES=1): a violated one traps
/// with "ORACLE:" and what failed. Off by default: then a crash is always a trap in the package.
let fuzzOraclesEnabled = ProcessInfo.processInfo.environment["MEDREX_FUZZ_ORACLES"] == "1"

func fuzzOracle(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    guard fuzzOraclesEnabled, !condition() else { return }
    fatalError("ORACLE: \(message())")
}

/// With MEDREX_FUZZ_VERBOSE=1, says what happened to an input (to check that seeds get deep).
let fuzzVerbose = ProcessInfo.processInfo.environment["MEDREX_FUZZ_VERBOSE"] == "1"

func fuzzTrace(_ message: @autoclosure () -> String) {
    guard fuzzVerbose else { return }
    FileHandle.standardError.write(Data("[fuzz] \(message())\n".utf8))
}

/// The chaincodes a peer ships, with `_lifecycle` for the fixed test organizations.
let builtInContracts: [String: any Contract] = {
    var all = BuiltInChaincodes.all
    all[ChaincodeDefinition.namespace] = LifecycleContract(organizations: ["HospitalAMSP", "HospitalBMSP"])
    return all
}()
