import Testing

@testable import Identity

@Suite struct EndorsementPolicyTests {
    static let peerA1 = PolicySigner(identityID: "a1", mspID: "A", role: .peer)
    static let peerA2 = PolicySigner(identityID: "a2", mspID: "A", role: .peer)
    static let clientA = PolicySigner(identityID: "ac", mspID: "A", role: .client)
    static let adminA = PolicySigner(identityID: "aa", mspID: "A", role: .admin)
    static let peerB = PolicySigner(identityID: "b1", mspID: "B", role: .peer)
    static let peerC = PolicySigner(identityID: "c1", mspID: "C", role: .peer)
    static let supervisor = PolicySigner(
        identityID: "sup", mspID: "HospitalA", role: .client,
        attributes: ["is_supervisor": "true", "specialty": "cardiology", "role": "consulting_doctor"])
    static let trainee = PolicySigner(
        identityID: "tr", mspID: "HospitalA", role: .client, attributes: ["is_trainee": "true", "specialty": "cardiology"])

    func satisfied(_ text: String, _ signers: [PolicySigner]) throws -> Bool {
        try EndorsementPolicy.parse(text).isSatisfied(by: signers)
    }

    /// Every subset of {A peer, B peer, C peer} against AND, OR and OutOf(2).
    @Test func truthTables() throws {
        let signers = [Self.peerA1, Self.peerB, Self.peerC]
        for mask in 0..<8 {
            let subset = signers.indices.filter { mask & (1 << $0) != 0 }.map { signers[$0] }
            let count = subset.count
            #expect(try satisfied("AND('A.peer', 'B.peer', 'C.peer')", subset) == (count == 3), "mask \(mask)")
            #expect(try satisfied("OR('A.peer', 'B.peer', 'C.peer')", subset) == (count >= 1), "mask \(mask)")
            #expect(try satisfied("OutOf(2, 'A.peer', 'B.peer', 'C.peer')", subset) == (count >= 2), "mask \(mask)")
            let hasA = mask & 1 != 0, hasB = mask & 2 != 0, hasC = mask & 4 != 0
            #expect(try satisfied("AND('A.peer', OR('B.peer', 'C.peer'))", subset) == (hasA && (hasB || hasC)), "mask \(mask)")
        }
    }

    @Test func aDuplicatedSignerCountsOnce() throws {
        #expect(try !satisfied("AND('A.peer', 'A.peer')", [Self.peerA1, Self.peerA1]))
        #expect(try satisfied("AND('A.peer', 'A.peer')", [Self.peerA1, Self.peerA2]))
        #expect(try !satisfied("OutOf(2, 'A.member', 'A.peer')", [Self.peerA1, Self.peerA1]))
    }

    @Test func memberMatchesEveryRoleOthersOnlyTheirOwn() throws {
        for signer in [Self.peerA1, Self.clientA, Self.adminA] {
            #expect(try satisfied("'A.member'", [signer]))
        }
        #expect(try !satisfied("'A.member'", [Self.peerB]))
        #expect(try satisfied("'A.admin'", [Self.adminA]))
        #expect(try !satisfied("'A.admin'", [Self.peerA1, Self.clientA]))
        #expect(try !satisfied("'A.orderer'", [Self.peerA1]))
        #expect(try satisfied("'A.client'", [Self.clientA]))
    }

    /// Fabric's greedy evaluation fails here when it tries the peer for 'A.member' first.
    @Test func findsAnAssignmentWhereGreedyMatchingFails() throws {
        let policy = try EndorsementPolicy.parse("OutOf(2, 'A.member', 'A.peer')")
        #expect(policy.isSatisfied(by: [Self.peerA1, Self.clientA]))
        #expect(policy.isSatisfied(by: [Self.clientA, Self.peerA1]))
        let assignment = try #require(policy.satisfyingAssignment(from: [Self.peerA1, Self.clientA]))
        #expect(Set(assignment.map(\.identityID)) == ["a1", "ac"])
        #expect(!policy.isSatisfied(by: [Self.clientA, Self.adminA]))
    }

    @Test func attributePrincipalsNeedEveryCondition() throws {
        let cosign = "AND('HospitalA.client[is_trainee=true]', 'HospitalA.client[is_supervisor=true,specialty=cardiology]')"
        #expect(try satisfied(cosign, [Self.trainee, Self.supervisor]))
        #expect(try !satisfied(cosign, [Self.trainee]))
        #expect(try !satisfied(cosign, [Self.supervisor]))
        let neurologySupervisor = PolicySigner(identityID: "n", mspID: "HospitalA", role: .client, attributes: ["is_supervisor": "true", "specialty": "neurology"])
        #expect(try !satisfied(cosign, [Self.trainee, neurologySupervisor]))
        let otherHospital = PolicySigner(identityID: "o", mspID: "HospitalB", role: .client, attributes: Self.supervisor.attributes)
        #expect(try !satisfied(cosign, [Self.trainee, otherHospital]))
        let supervisorPeer = PolicySigner(identityID: "p", mspID: "HospitalA", role: .peer, attributes: Self.supervisor.attributes)
        #expect(try !satisfied(cosign, [Self.trainee, supervisorPeer]))
        #expect(try satisfied("'HospitalA.member[specialty=cardiology]'", [Self.trainee]))
    }

    @Test func nestedExpressions() throws {
        let text = "OutOf(2, AND('A.peer', 'B.peer'), OR('C.peer', 'A.admin'), 'A.client')"
        #expect(try satisfied(text, [Self.peerA1, Self.peerB, Self.peerC]))
        #expect(try satisfied(text, [Self.adminA, Self.clientA]))
        #expect(try !satisfied(text, [Self.peerA1, Self.peerB]))
        #expect(try !satisfied(text, [Self.peerA1, Self.clientA]))
        #expect(try satisfied("or(and('A.peer'), OUTOF(1, 'B.peer'))", [Self.peerB]))
    }

    @Test func canonicalTextRoundTrips() throws {
        let texts = [
            "AND('A.peer', OR('B.peer', 'C.member'))",
            "OutOf(2, 'A.peer', 'B.peer', 'HospitalA.client[is_supervisor=true,specialty=cardiology]')",
            "'Org1.example.com.admin'",
            "OR(AND('A.peer', 'B.peer'), OutOf(2, 'A.client', 'B.client', 'C.client'))",
        ]
        for text in texts {
            let policy = try EndorsementPolicy.parse(text)
            #expect(policy.description == text)
            #expect(try EndorsementPolicy.parse(policy.description) == policy)
        }
        let messy = try EndorsementPolicy.parse("  and ( \"A.peer\" ,'HospitalA.client[ specialty = cardiology , is_supervisor=true ]' ) ")
        #expect(messy.description == "AND('A.peer', 'HospitalA.client[is_supervisor=true,specialty=cardiology]')")
        #expect(try EndorsementPolicy.parse("'Org1.example.com.admin'").mspIDs == ["Org1.example.com"])
    }

    @Test(arguments: [
        ("", PolicyParseError.Code.empty, 1, "empty"),
        ("AND('A.peer'", .unexpectedEnd, 13, "expected ',' or ')' but found the end of the policy"),
        ("AND('A.peer' 'B.peer')", .unexpectedCharacter, 14, "expected ',' or ')' but found '''"),
        ("'A.doctor'", .unknownRole, 4, "unknown role 'doctor'"),
        ("OutOf(3, 'A.peer', 'B.peer')", .badCount, 7, "OutOf count 3 exceeds its 2 sub-policies"),
        ("OutOf(0, 'A.peer')", .badCount, 7, "at least 1"),
        ("OutOf(x, 'A.peer')", .badCount, 7, "expected the OutOf count"),
        ("AND('A.peer)", .unexpectedEnd, 5, "unterminated quote"),
        ("'A.peer' garbage", .trailingInput, 10, "expected the end of the policy but found 'g'"),
        ("XOR('A.peer')", .unknownOperator, 1, "unknown operator 'XOR'"),
        ("'Apeer'", .badPrincipal, 2, "expected a principal 'MSP.role'"),
        ("'A.client[role=x,role=y]'", .duplicateAttribute, 18, "attribute 'role' is given twice"),
        ("'A.client[role]'", .badPrincipal, 11, "expected an attribute condition"),
        ("'A.client[role=x'", .badPrincipal, 17, "expected ']'"),
        ("AND(,'A.peer')", .unexpectedCharacter, 5, "expected a quoted principal"),
    ])
    func parseErrorsNamePositionAndExpectation(text: String, code: PolicyParseError.Code, position: Int, fragment: String) {
        do {
            let policy = try EndorsementPolicy.parse(text)
            Issue.record("parsed \(text) as \(policy)")
        } catch {
            #expect(error.code == code, "\(error)")
            #expect(error.position == position, "\(error)")
            #expect(error.reason.contains(fragment), "\(error)")
            #expect(error.description.hasPrefix("policy error at position \(position): "))
        }
    }

    @Test func boundsNestingAndLength() {
        let deep = String(repeating: "AND(", count: 40) + "'A.peer'" + String(repeating: ")", count: 40)
        #expect(throws: PolicyParseError.self) { try EndorsementPolicy.parse(deep) }
        let justDeepEnough = String(repeating: "AND(", count: 31) + "'A.peer'" + String(repeating: ")", count: 31)
        #expect((try? EndorsementPolicy.parse(justDeepEnough)) != nil)
        let long = "OR(" + Array(repeating: "'A.peer'", count: 2000).joined(separator: ",") + ")"
        do {
            _ = try EndorsementPolicy.parse(long)
            Issue.record("accepted an oversized policy")
        } catch {
            #expect(error.code == .tooLong)
        }
    }

    @Test func evaluationIsBoundedOnAdversarialPolicies() throws {
        // 12 interchangeable principals and 11 matching signers: no assignment exists, and the
        // search must give up within its step budget rather than try every permutation.
        let principals = Array(repeating: "'A.member'", count: 12).joined(separator: ", ")
        let policy = try EndorsementPolicy.parse("AND(\(principals))")
        let signers = (0..<11).map { PolicySigner(identityID: "s\($0)", mspID: "A", role: .peer) }
        #expect(!policy.isSatisfied(by: signers))
        let enough = (0..<12).map { PolicySigner(identityID: "s\($0)", mspID: "A", role: .peer) }
        #expect(policy.isSatisfied(by: enough))
    }
}
