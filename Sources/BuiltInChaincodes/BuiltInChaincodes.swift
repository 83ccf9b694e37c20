import Chaincode
import HealthChaincodes

/// Chaincodes that ship with the peer: a channel whose peer.yaml lists one of these names uses it
/// without installing a plugin.
package enum BuiltInChaincodes {
    package static let all: [String: any Contract] = [
        "kv": KeyValueContract(),
        "accounts": AccountsContract(),
        "counters": CountersContract(),
        "phi": PhiContract(),
        "access": AccessContract(),
        "audit": AuditContract(),
        "clinical": ClinicalContract(),
        "vitals": VitalsContract(),
    ]
}
