/// The role an MSP assigns to a valid identity, read from the NodeOU in the certificate subject's
/// organizational units (as Fabric's NodeOUs do). Exactly one per identity.
package enum IdentityRole: String, Sendable, Hashable, CaseIterable, Codable {
    case client
    case peer
    case orderer
    case admin
}
