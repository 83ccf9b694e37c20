import Foundation
import LedgerWire
import SwiftProtobuf

/// Converts endorsement policies to and from Fabric's `SignaturePolicyEnvelope` (MSPRole
/// principals referenced by index). Attribute principals are Medrex's own and have no Fabric
/// encoding: converting a policy that uses them is an error.
package enum SignaturePolicyCodec {
    package static func encode(_ policy: EndorsementPolicy) throws(PolicyParseError) -> Common_SignaturePolicyEnvelope {
        var principals: [PolicyPrincipal] = []
        func rule(_ policy: EndorsementPolicy) throws(PolicyParseError) -> Common_SignaturePolicy {
            var result = Common_SignaturePolicy()
            switch policy {
            case .signedBy(let principal):
                guard principal.attributes.isEmpty else {
                    throw PolicyParseError(code: .badPrincipal, position: 1, reason: "attribute principal \(principal) has no Fabric signature-policy encoding")
                }
                let index = principals.firstIndex(of: principal) ?? principals.count
                if index == principals.count { principals.append(principal) }
                result.signedBy = Int32(index)
            case .outOf(let count, let policies):
                var nOutOf = Common_SignaturePolicy.NOutOf()
                nOutOf.n = Int32(count)
                for child in policies { nOutOf.rules.append(try rule(child)) }
                result.nOutOf = nOutOf
            }
            return result
        }
        var envelope = Common_SignaturePolicyEnvelope()
        envelope.rule = try rule(policy)
        envelope.identities = principals.map { principal in
            var role = Common_MSPRole()
            role.mspIdentifier = principal.mspID
            role.role = roleType(principal.kind)
            var encoded = Common_MSPPrincipal()
            encoded.principalClassification = .role
            encoded.principal = (try? role.serializedData()) ?? Data()
            return encoded
        }
        return envelope
    }

    package static func decode(_ envelope: Common_SignaturePolicyEnvelope) throws(PolicyParseError) -> EndorsementPolicy {
        var principals: [PolicyPrincipal] = []
        for identity in envelope.identities {
            guard identity.principalClassification == .role, let role = try? Common_MSPRole(serializedBytes: identity.principal) else {
                throw PolicyParseError(code: .badPrincipal, position: 1, reason: "only MSP role principals are supported")
            }
            principals.append(PolicyPrincipal(mspID: role.mspIdentifier, kind: kind(role.role)))
        }
        func convert(_ rule: Common_SignaturePolicy, depth: Int) throws(PolicyParseError) -> EndorsementPolicy {
            guard depth <= 32 else { throw PolicyParseError(code: .tooDeep, position: 1, reason: "signature policy nested too deep") }
            switch rule.type {
            case .signedBy(let index):
                guard principals.indices.contains(Int(index)) else {
                    throw PolicyParseError(code: .badPrincipal, position: 1, reason: "rule refers to principal \(index) of \(principals.count)")
                }
                return .signedBy(principals[Int(index)])
            case .nOutOf(let nOutOf):
                var children: [EndorsementPolicy] = []
                for child in nOutOf.rules { children.append(try convert(child, depth: depth + 1)) }
                return .outOf(count: Int(nOutOf.n), children)
            case .none:
                throw PolicyParseError(code: .empty, position: 1, reason: "signature policy rule is empty")
            }
        }
        return try convert(envelope.rule, depth: 1)
    }

    private static func roleType(_ kind: PolicyPrincipal.Kind) -> Common_MSPRole.MSPRoleType {
        switch kind {
        case .member: .member
        case .admin: .admin
        case .client: .client
        case .peer: .peer
        case .orderer: .orderer
        }
    }

    private static func kind(_ role: Common_MSPRole.MSPRoleType) -> PolicyPrincipal.Kind {
        switch role {
        case .admin: .admin
        case .client: .client
        case .peer: .peer
        case .orderer: .orderer
        default: .member
        }
    }
}
