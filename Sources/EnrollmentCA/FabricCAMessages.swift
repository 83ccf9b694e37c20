import Foundation

/// The JSON of Fabric CA's REST API (`/api/v1/...`), as `fabric-ca-client` sends and reads it:
/// field names exactly Fabric CA's; certificates, chains and CRLs as base64 of their PEM.
package enum FabricCAMessages {
    /// Every answer: `{"success", "result", "errors": [{"code", "message"}], "messages"}`.
    package struct Envelope<Result: Codable & Sendable>: Codable, Sendable {
        package var success: Bool
        package var result: Result?
        package var errors: [Message]
        package var messages: [Message]

        package init(success: Bool, result: Result?, errors: [Message] = [], messages: [Message] = []) {
            self.success = success
            self.result = result
            self.errors = errors
            self.messages = messages
        }
    }

    package struct Message: Codable, Sendable {
        package var code: Int
        package var message: String

        package init(code: Int, message: String) {
            self.code = code
            self.message = message
        }
    }

    package struct ServerInfo: Codable, Sendable {
        package var caName: String
        /// Base64 of the PEM chain (the CA's certificate).
        package var caChain: String
        package var issuerPublicKey: String = ""
        package var issuerRevocationPublicKey: String = ""
        package var version: String

        enum CodingKeys: String, CodingKey {
            case caName = "CAName", caChain = "CAChain", issuerPublicKey = "IssuerPublicKey", issuerRevocationPublicKey = "IssuerRevocationPublicKey", version = "Version"
        }

        package init(caName: String, caChain: String, version: String) {
            self.caName = caName
            self.caChain = caChain
            self.version = version
        }
    }

    package struct AttributeRequest: Codable, Sendable {
        package var name: String
        package var optional: Bool?

        package init(name: String, optional: Bool?) {
            self.name = name
            self.optional = optional
        }
    }

    package struct EnrollRequest: Codable, Sendable {
        package var certificateRequest: String
        package var hosts: [String]?
        package var profile: String?
        package var label: String?
        package var caName: String?
        package var attributeRequests: [AttributeRequest]?

        enum CodingKeys: String, CodingKey {
            case certificateRequest = "certificate_request", hosts, profile, label, caName = "caname", attributeRequests = "attr_reqs"
        }

        package init(certificateRequest: String, attributeRequests: [AttributeRequest]? = nil) {
            self.certificateRequest = certificateRequest
            self.attributeRequests = attributeRequests
        }
    }

    package struct EnrollResult: Codable, Sendable {
        /// Base64 of the PEM certificate.
        package var cert: String
        package var serverInfo: ServerInfo

        enum CodingKeys: String, CodingKey { case cert = "Cert", serverInfo = "ServerInfo" }

        package init(cert: String, serverInfo: ServerInfo) {
            self.cert = cert
            self.serverInfo = serverInfo
        }
    }

    package struct Attribute: Codable, Sendable {
        package var name: String
        package var value: String
        package var ecert: Bool?

        package init(name: String, value: String, ecert: Bool?) {
            self.name = name
            self.value = value
            self.ecert = ecert
        }
    }

    package struct RegisterRequest: Codable, Sendable {
        package var id: String
        package var type: String?
        package var secret: String?
        package var maxEnrollments: Int?
        package var affiliation: String?
        package var attributes: [Attribute]?
        package var caName: String?

        enum CodingKeys: String, CodingKey {
            case id, type, secret, maxEnrollments = "max_enrollments", affiliation, attributes = "attrs", caName = "caname"
        }

        package init(id: String, type: String?, secret: String?, maxEnrollments: Int?, affiliation: String?, attributes: [Attribute]?) {
            self.id = id
            self.type = type
            self.secret = secret
            self.maxEnrollments = maxEnrollments
            self.affiliation = affiliation
            self.attributes = attributes
        }
    }

    package struct RegisterResult: Codable, Sendable {
        package var secret: String
        package init(secret: String) { self.secret = secret }
    }

    package struct RevokeRequest: Codable, Sendable {
        package var id: String?
        package var aki: String?
        package var serial: String?
        package var reason: String?
        package var caName: String?
        package var generateCRL: Bool?

        enum CodingKeys: String, CodingKey { case id, aki, serial, reason, caName = "caname", generateCRL = "gencrl" }

        package init(id: String?, serial: String?, reason: String?, generateCRL: Bool?) {
            self.id = id
            self.serial = serial
            self.reason = reason
            self.generateCRL = generateCRL
        }
    }

    package struct RevokedCertificate: Codable, Sendable {
        package var serial: String
        package var aki: String

        enum CodingKeys: String, CodingKey { case serial = "Serial", aki = "AKI" }

        package init(serial: String, aki: String) {
            self.serial = serial
            self.aki = aki
        }
    }

    package struct RevokeResult: Codable, Sendable {
        package var revokedCertificates: [RevokedCertificate]
        /// Base64 of the PEM CRL, when asked for.
        package var crl: String?

        enum CodingKeys: String, CodingKey { case revokedCertificates = "RevokedCerts", crl = "CRL" }

        package init(revokedCertificates: [RevokedCertificate], crl: String?) {
            self.revokedCertificates = revokedCertificates
            self.crl = crl
        }
    }

    package struct GenerateCRLRequest: Codable, Sendable {
        package var caName: String?
        enum CodingKeys: String, CodingKey { case caName = "caname" }
        package init() {}
    }

    package struct GenerateCRLResult: Codable, Sendable {
        /// Base64 of the PEM CRL.
        package var crl: String
        enum CodingKeys: String, CodingKey { case crl = "CRL" }
        package init(crl: String) { self.crl = crl }
    }
}
