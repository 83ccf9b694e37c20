import Chaincode

/// The names the healthcare contracts are deployed under (BuiltInChaincodes registers them so),
/// and the world-state keys the peer's PHI service reads directly.
extension PhiContract {
    package static let name = "phi"
    /// Object type of the `PATIENTREC` [patient, record id] index keys.
    package static let patientRecordObjectType = patientRecordType
    /// Object type of the `ANCHOR` [record id, version] keys.
    package static let anchorObjectType = anchorType

    /// The world-state key (in the `phi` namespace) of a record version's anchor.
    package static func anchorKey(recordID: String, version: UInt32) throws -> String {
        try CompositeKey.make(objectType: anchorType, attributes: [recordID, paddedVersion(version)])
    }

    /// Object type of the `RETENTION` [custodian, resource type] keys.
    package static let retentionObjectType = retentionType

    /// Object type of the `ERASURE` [record id, version] keys.
    package static let erasureObjectType = erasureType

    /// The world-state key (in the `phi` namespace) of a record version's erasure entry.
    package static func erasureKey(recordID: String, version: UInt32) throws -> String {
        try CompositeKey.make(objectType: erasureType, attributes: [recordID, paddedVersion(version)])
    }
}

extension AccessContract { package static let name = "access" }
extension AuditContract { package static let name = "audit" }
extension ClinicalContract { package static let name = "clinical" }
extension VitalsContract { package static let name = "vitals" }
