import LedgerCore
import Testing

@testable import Identity

@Suite struct EndorsementPolicyTests {
    static let peerA1 = PolicySigner(identityID: "a1", mspID: "A", role: .peer)
    static let peerA2 = PolicySigner(identityID: "a2", mspID: "A", role: .peer)
    static let clientA = PolicySigner(identityID: "ac", mspID: "A", role: .client)
    static let adminA = PolicySigner(identityID: "aa", mspID: "A", role: .admin)
    static let ordererA = PolicySigner(identityID: "ao", mspID: "A", role: .orderer)
    static let peerB = PolicySigner(identityID: "b1", mspID: "B", role: .peer)
    static let clientB = PolicySigner(identityID: "bc", mspID: "B", role: .client)
    static let peerC = PolicySigner(identityID: "c1", mspID: "C", role: .peer)
    static let supervisor = PolicySigner(
        identityID: "sup", mspID: "HospitalA", role: .client,
        attributes: ["is_supervisor": "true", "specialty": "cardiology", "role": "consulting_doctor"])
    static let trainee = PolicySigner(
        identityID: "tr", mspID: "HospitalA", role: .client, attributes: ["is_trainee": "true", "specialty": "cardiology"])

    func satisfied(_ text: String, _ signers: [PolicySigner]) throws -> Bool {
        try EndorsementPolicy.parse(text).isSatisfied(by: signers)
    }

    // MARK: - Evaluation

    /// Every subset of {A peer, B peer, C peer} against AND, OR, OutOf(2) and a nested policy.
    @Test func truthTables() throws {
        let signers = [Self.peerA1, Self.peerB, Self.peerC]
        for mask in 0..<8 {
            let subset = signers.indices.filter { mask & (1 << $0) != 0 }.map { signers[$0] }
            let count = subset.count
            let hasA = mask & 1 != 0, hasB = mask & 2 != 0, hasC = mask & 4 != 0
            #expect(try satisfied("AND('A.peer', 'B.peer', 'C.peer')", subset) == (count == 3), "mask \(mask)")
            #expect(try satisfied("OR('A.peer', 'B.peer', 'C.peer')", subset) == (count >= 1), "mask \(mask)")
            #expect(try satisfied("OutOf(2, 'A.peer', 'B.peer', 'C.peer')", subset) == (count >= 2), "mask \(mask)")
            #expect(try satisfied("AND('A.peer', OR('B.peer', 'C.peer'))", subset) == (hasA && (hasB || hasC)), "mask \(mask)")
            // Signers of other MSPs or roles never change the answer.
            let noise = [Self.clientA, Self.peerA1, Self.clientB]
            #expect(try satisfied("OutOf(2, 'A.peer', 'B.peer', 'C.peer')", noise + subset) == (hasB || hasC), "mask \(mask)")
        }
    }

    @Test func aDuplicatedSignerCountsOnce() throws {
        #expect(try !satisfied("AND('A.peer', 'A.peer')", [Self.peerA1, Self.peerA1]))
        #expect(try satisfied("AND('A.peer', 'A.peer')", [Self.peerA1, Self.peerA2]))
        #expect(try satisfied("AND('A.peer', 'A.peer')", [Self.peerA1, Self.peerA1, Self.peerA2, Self.peerA2]))
        #expect(try !satisfied("OutOf(2, 'A.member', 'A.peer')", [Self.peerA1, Self.peerA1]))
        #expect(try !satisfied("OutOf(2, 'A.peer', 'B.peer', 'C.peer')", Array(repeating: Self.peerB, count: 5)))
        // The same identity in another position in a nested policy is still the same identity.
        #expect(try !satisfied("AND('A.peer', OR('B.peer', 'A.member'))", [Self.peerA1, Self.peerA1]))
    }

    @Test func memberMatchesEveryRoleOthersOnlyTheirOwn() throws {
        for signer in [Self.peerA1, Self.clientA, Self.adminA, Self.ordererA] {
            #expect(try satisfied("'A.member'", [signer]))
            for kind in PolicyPrincipal.Kind.allCases where kind != .member {
                #expect(try satisfied("'A.\(kind.rawValue)'", [signer]) == (kind.rawValue == signer.role.rawValue), "\(kind) \(signer.role)")
            }
        }
        #expect(try !satisfied("'A.member'", [Self.peerB, Self.clientB]))
        #expect(try !satisfied("'B.peer'", [Self.peerA1]))
        #expect(try !satisfied("'A.peer'", []))
    }

    /// Fabric's greedy evaluation fails here when it tries the peer for 'A.member' first.
    @Test func findsAnAssignmentWhereGreedyMatchingFails() throws {
        let policy = try EndorsementPolicy.parse("OutOf(2, 'A.member', 'A.peer')")
        #expect(policy.isSatisfied(by: [Self.peerA1, Self.clientA]))
        #expect(policy.isSatisfied(by: [Self.clientA, Self.peerA1]))
        let assignment = try #require(policy.satisfyingAssignment(from: [Self.peerA1, Self.clientA]))
        #expect(assignment.map(\.identityID) == ["a1", "ac"])
        #expect(!policy.isSatisfied(by: [Self.clientA, Self.adminA]))
        #expect(policy.satisfyingAssignment(from: [Self.clientA, Self.adminA]) == nil)

        // The same trap one level down: the peer must be kept for the AND.
        let nested = try EndorsementPolicy.parse("AND(OR('A.member', 'B.peer'), 'A.peer')")
        #expect(nested.isSatisfied(by: [Self.peerA1, Self.clientA]))
        #expect(!nested.isSatisfied(by: [Self.peerA1]))
        let sharedAttributes = try EndorsementPolicy.parse("AND('HospitalA.client[specialty=cardiology]', 'HospitalA.client[is_supervisor=true]')")
        #expect(sharedAttributes.isSatisfied(by: [Self.supervisor, Self.trainee]))
        #expect(sharedAttributes.isSatisfied(by: [Self.trainee, Self.supervisor]))
    }

    @Test func assignmentsUseDistinctSignersAndIgnoreOrder() throws {
        let policy = try EndorsementPolicy.parse("OutOf(2, 'A.peer', 'B.peer', 'C.peer')")
        let signers = [Self.peerC, Self.clientA, Self.peerB, Self.peerA1]
        let assignment = try #require(policy.satisfyingAssignment(from: signers))
        #expect(assignment.count == 2)
        #expect(Set(assignment.map(\.identityID)).count == 2)
        #expect(policy.isSatisfied(by: assignment))
        #expect(policy.satisfyingAssignment(from: signers.reversed()) == assignment)
    }

    @Test func attributePrincipalsNeedEveryCondition() throws {
        let principal = "'HospitalA.client[is_supervisor=true,specialty=cardiology]'"
        #expect(try satisfied(principal, [Self.supervisor]))
        let missing = PolicySigner(identityID: "m", mspID: "HospitalA", role: .client, attributes: ["specialty": "cardiology"])
        #expect(try !satisfied(principal, [missing]))
        let wrongValue = PolicySigner(identityID: "n", mspID: "HospitalA", role: .client, attributes: ["is_supervisor": "true", "specialty": "neurology"])
        #expect(try !satisfied(principal, [wrongValue]))
        let wrongCase = PolicySigner(identityID: "c", mspID: "HospitalA", role: .client, attributes: ["is_supervisor": "True", "specialty": "cardiology"])
        #expect(try !satisfied(principal, [wrongCase]))
        let otherHospital = PolicySigner(identityID: "o", mspID: "HospitalB", role: .client, attributes: Self.supervisor.attributes)
        #expect(try !satisfied(principal, [otherHospital]))
        let supervisorPeer = PolicySigner(identityID: "p", mspID: "HospitalA", role: .peer, attributes: Self.supervisor.attributes)
        #expect(try !satisfied(principal, [supervisorPeer]))
        #expect(try satisfied("'HospitalA.member[specialty=cardiology]'", [supervisorPeer]))
        #expect(try !satisfied(principal, [missing, wrongValue, wrongCase, otherHospital, supervisorPeer]))

        // Values compare as bytes: a decomposed "é" is not the precomposed one.
        let decomposed = PolicySigner(identityID: "d", mspID: "A", role: .client, attributes: ["ward": "Caf\u{65}\u{301}"])
        let precomposed = PolicySigner(identityID: "e", mspID: "A", role: .client, attributes: ["ward": "Caf\u{E9}"])
        #expect(try satisfied("'A.client[ward=Caf\u{E9}]'", [precomposed]))
        #expect(try !satisfied("'A.client[ward=Caf\u{E9}]'", [decomposed]))
    }

    /// A trainee's order needs the trainee and a supervisor of the same specialty to co-sign.
    @Test func supervisorCoSignature() throws {
        let cosign = "AND('HospitalA.client[is_trainee=true]', 'HospitalA.client[is_supervisor=true,specialty=cardiology]')"
        #expect(try satisfied(cosign, [Self.trainee, Self.supervisor]))
        #expect(try !satisfied(cosign, [Self.trainee]))
        #expect(try !satisfied(cosign, [Self.supervisor]))
        #expect(try !satisfied(cosign, [Self.trainee, Self.trainee]))
        let traineeSupervisor = PolicySigner(
            identityID: "ts", mspID: "HospitalA", role: .client,
            attributes: ["is_trainee": "true", "is_supervisor": "true", "specialty": "cardiology"])
        #expect(try !satisfied(cosign, [traineeSupervisor]), "one identity cannot co-sign its own order")
        #expect(try satisfied(cosign, [traineeSupervisor, Self.trainee]))
    }

    @Test func nestedExpressions() throws {
        let text = "OutOf(2, AND('A.peer', 'B.peer'), OR('C.peer', 'A.admin'), 'A.client')"
        #expect(try satisfied(text, [Self.peerA1, Self.peerB, Self.peerC]))
        #expect(try satisfied(text, [Self.adminA, Self.clientA]))
        #expect(try !satisfied(text, [Self.peerA1, Self.peerB]))
        #expect(try !satisfied(text, [Self.peerA1, Self.clientA]))
        #expect(try satisfied("or(and('A.peer'), OUTOF(1, 'B.peer'))", [Self.peerB]))

        // AND inside OR inside OutOf.
        let deep = "OutOf(2, OR(AND('A.peer', 'B.peer'), 'C.peer'), 'A.admin', 'B.client')"
        #expect(try satisfied(deep, [Self.peerA1, Self.peerB, Self.adminA]))
        #expect(try satisfied(deep, [Self.peerC, Self.clientB]))
        #expect(try satisfied(deep, [Self.adminA, Self.clientB]))
        #expect(try !satisfied(deep, [Self.peerA1, Self.clientB]), "half of the AND does not satisfy the OR")
        #expect(try !satisfied(deep, [Self.peerA1, Self.peerB]), "the OR alone is one of two")
        #expect(try !satisfied(deep, [Self.peerC]))
    }

    @Test func malformedPoliciesBuiltInCodeAreNeverSatisfied() {
        let peer = EndorsementPolicy.signedBy(PolicyPrincipal(mspID: "A", kind: .peer))
        #expect(!EndorsementPolicy.outOf(count: 0, [peer]).isSatisfied(by: [Self.peerA1]))
        #expect(!EndorsementPolicy.outOf(count: -1, [peer]).isSatisfied(by: [Self.peerA1]))
        #expect(!EndorsementPolicy.outOf(count: 2, [peer]).isSatisfied(by: [Self.peerA1, Self.peerA2]))
        #expect(EndorsementPolicy.and([peer, peer]).isSatisfied(by: [Self.peerA1, Self.peerA2]))
        #expect(EndorsementPolicy.or([peer]) == (try? EndorsementPolicy.parse("OR('A.peer')")))
    }

    @Test func manySignersAreAllConsidered() throws {
        // More matching signers than a 64-bit set holds, with the one that matters sorted last.
        let clients = (0..<200).map { PolicySigner(identityID: "a\(1000 + $0)", mspID: "A", role: .client) }
        let peerZ = PolicySigner(identityID: "zz", mspID: "A", role: .peer)
        let policy = try EndorsementPolicy.parse("AND('A.member', 'A.member', 'A.peer')")
        #expect(policy.isSatisfied(by: clients + [peerZ]))
        #expect(!policy.isSatisfied(by: clients))
        let assignment = try #require(policy.satisfyingAssignment(from: [peerZ] + clients))
        #expect(assignment.map(\.identityID) == ["a1000", "a1001", "zz"])
    }

    @Test func interchangeableSignersAreSearchedOnce() throws {
        // 12 equal principals and 11 matching signers: no assignment exists, and because the
        // signers are interchangeable the search sees that without trying their permutations.
        let principals = Array(repeating: "'A.member'", count: 12).joined(separator: ", ")
        let policy = try EndorsementPolicy.parse("AND(\(principals))")
        let signers = (0..<11).map { PolicySigner(identityID: "s\($0)", mspID: "A", role: .peer) }
        let refused = policy.evaluate(signers, stepsMax: EndorsementPolicy.evaluationStepsMax)
        #expect(refused.assignment == nil)
        #expect(refused.stepsUsed < 100)
        let enough = signers + [PolicySigner(identityID: "s11", mspID: "A", role: .admin)]
        #expect(policy.isSatisfied(by: enough))
    }

    @Test func evaluationStopsAtItsStepBudget() throws {
        // Signer j holds every attribute but x<j>, so each matches a different set of principals and
        // the search cannot merge them; 11 signers for 12 principals explores ~11! assignments.
        let principals = (0..<12).map { "'A.member[x\($0)=1]'" }.joined(separator: ", ")
        let policy = try EndorsementPolicy.parse("AND(\(principals))")
        let signers = (0..<11).map { j in
            PolicySigner(
                identityID: "s\(j)", mspID: "A", role: .peer,
                attributes: Dictionary(uniqueKeysWithValues: (0..<12).filter { $0 != j }.map { ("x\($0)", "1") }))
        }
        let refused = policy.evaluate(signers, stepsMax: EndorsementPolicy.evaluationStepsMax)
        #expect(refused.assignment == nil)
        #expect(refused.stepsUsed == EndorsementPolicy.evaluationStepsMax)
        #expect(!policy.isSatisfied(by: signers))
        // A small budget is enough for the satisfiable version: a signer holding every attribute.
        let complete = PolicySigner(
            identityID: "s99", mspID: "A", role: .peer,
            attributes: Dictionary(uniqueKeysWithValues: (0..<12).map { ("x\($0)", "1") }))
        let accepted = policy.evaluate(signers + [complete], stepsMax: 10_000)
        #expect(accepted.assignment?.count == 12)
    }

    @Test func theLargestPoliciesEvaluate() throws {
        // As many principals as the length bound allows, all needed: the search recurses once per
        // principal and must not exhaust the stack.
        let count = Limits.policyTextBytesMax / "'A.peer',".utf8.count - 1
        let text = "AND(" + Array(repeating: "'A.peer'", count: count).joined(separator: ",") + ")"
        let policy = try EndorsementPolicy.parse(text)
        let peers = (0..<count).map { PolicySigner(identityID: "p\($0)", mspID: "A", role: .peer) }
        #expect(policy.isSatisfied(by: peers))
        #expect(!policy.isSatisfied(by: peers.dropLast()))
    }

    // MARK: - Parsing

    @Test func canonicalTextRoundTrips() throws {
        let texts = [
            "AND('A.peer', OR('B.peer', 'C.member'))",
            "OutOf(2, 'A.peer', 'B.peer', 'HospitalA.client[is_supervisor=true,specialty=cardiology]')",
            "'Org1.example.com.admin'",
            "OR(AND('A.peer', 'B.peer'), OutOf(2, 'A.client', 'B.client', 'C.client'))",
            "'Hospital-B_2.orderer[lab.org=Lab 7,ward_assignment=ICU-3]'",
            "AND('A.peer')",
        ]
        for text in texts {
            let policy = try EndorsementPolicy.parse(text)
            #expect(policy.description == text)
            #expect(try EndorsementPolicy.parse(policy.description) == policy)
        }
        let messy = try EndorsementPolicy.parse(
            "  and ( \"A.peer\" ,'HospitalA.client[ specialty = cardiology , is_supervisor=true ]' ) ")
        #expect(messy.description == "AND('A.peer', 'HospitalA.client[is_supervisor=true,specialty=cardiology]')")
        #expect(try EndorsementPolicy.parse("'Org1.example.com.member'").mspIDs == ["Org1.example.com"])
        #expect(try EndorsementPolicy.parse("OutOf( 2 ,'A.peer','B.peer' ,\n'C.peer')").description == "OutOf(2, 'A.peer', 'B.peer', 'C.peer')")
        #expect(try EndorsementPolicy.parse("OutOf(3, 'A.peer', 'B.peer', 'C.peer')").description == "AND('A.peer', 'B.peer', 'C.peer')")
        #expect(try EndorsementPolicy.parse("OutOf(1, 'A.peer', 'B.peer')").description == "OR('A.peer', 'B.peer')")
    }

    @Test func parsesToTheExpectedTree() throws {
        let policy = try EndorsementPolicy.parse("OutOf(2, 'A.peer', OR('B.member', \"HospitalA.client[specialty=cardiology]\"), 'C.admin')")
        let expected = EndorsementPolicy.outOf(count: 2, [
            .signedBy(PolicyPrincipal(mspID: "A", kind: .peer)),
            .or([
                .signedBy(PolicyPrincipal(mspID: "B", kind: .member)),
                .signedBy(PolicyPrincipal(mspID: "HospitalA", kind: .client, attributes: ["specialty": "cardiology"])),
            ]),
            .signedBy(PolicyPrincipal(mspID: "C", kind: .admin)),
        ])
        #expect(policy == expected)
        #expect(policy.mspIDs == ["A", "B", "C", "HospitalA"])
    }

    @Test(arguments: [
        ("", PolicyParseError.Code.empty, 1, "expected a policy but the text is empty"),
        (" \n\t ", .empty, 1, "empty"),
        ("AND('A.peer'", .unexpectedEnd, 13, "expected ',' or ')' but found the end of the policy"),
        ("AND('A.peer' 'B.peer')", .unexpectedCharacter, 14, "expected ',' or ')' but found '''"),
        ("OR('A.peer', 'B.peer' x)", .unexpectedCharacter, 23, "expected ',' or ')' but found 'x'"),
        ("AND 'A.peer'", .unexpectedCharacter, 5, "expected '(' but found '''"),
        ("AND(", .unexpectedEnd, 5, "expected a quoted principal or AND, OR, OutOf but the policy ended"),
        ("'A.doctor'", .unknownRole, 4, "unknown role 'doctor' (expected member, admin, client, peer or orderer)"),
        ("'A.PEER'", .unknownRole, 4, "unknown role 'PEER'"),
        ("OutOf(3, 'A.peer', 'B.peer')", .badCount, 7, "OutOf count 3 exceeds its 2 sub-policies"),
        ("OutOf(0, 'A.peer')", .badCount, 7, "OutOf count must be at least 1"),
        ("OutOf(-1, 'A.peer')", .badCount, 7, "expected the OutOf count (a whole number) but found '-'"),
        ("OutOf(x, 'A.peer')", .badCount, 7, "expected the OutOf count"),
        ("OutOf(99999999999999999999, 'A.peer')", .badCount, 7, "OutOf count 99999999999999999999 is too large"),
        ("OutOf(1 'A.peer')", .unexpectedCharacter, 9, "expected ',' but found '''"),
        ("AND('A.peer)", .unexpectedEnd, 5, "unterminated quote"),
        ("AND('A.peer\")", .unexpectedEnd, 5, "unterminated quote"),
        ("'A.peer' garbage", .trailingInput, 10, "expected the end of the policy but found 'g'"),
        ("AND('A.peer'))", .trailingInput, 14, "expected the end of the policy but found ')'"),
        ("XOR('A.peer')", .unknownOperator, 1, "unknown operator 'XOR' (expected AND, OR or OutOf)"),
        ("AND(, 'A.peer')", .unexpectedCharacter, 5, "expected a quoted principal or AND, OR, OutOf but found ','"),
        ("'Apeer'", .badPrincipal, 2, "expected a principal 'MSP.role'"),
        ("'.peer'", .badPrincipal, 2, "expected a principal 'MSP.role'"),
        ("'A B.peer'", .badPrincipal, 2, "MSP id 'A B' may use"),
        ("'A.client[role=x,role=y]'", .duplicateAttribute, 18, "attribute 'role' is given twice"),
        ("'A.client[role]'", .badPrincipal, 11, "expected an attribute condition 'name=value'"),
        ("'A.client[]'", .badPrincipal, 11, "expected an attribute condition"),
        ("'A.client[ro le=x]'", .badPrincipal, 11, "expected an attribute condition"),
        ("'A.client[role=x,]'", .badPrincipal, 18, "expected an attribute condition"),
        ("'A.client[role= ]'", .badPrincipal, 16, "attribute 'role' has an empty value"),
        ("'A.client[role=x'", .badPrincipal, 17, "expected ']'"),
        ("'A.client[role=a]b]'", .badPrincipal, 17, "attribute 'role' has a value containing ']'"),
        ("'A.client[role=a=b]'", .badPrincipal, 17, "attribute 'role' has a value containing '='"),
        ("\"A.client[role=it's]\"", .badPrincipal, 18, "attribute 'role' has a value containing '''"),
    ])
    func parseErrorsNamePositionAndExpectation(text: String, code: PolicyParseError.Code, position: Int, reason: String) {
        do {
            let policy = try EndorsementPolicy.parse(text)
            Issue.record("parsed \(text) as \(policy)")
        } catch {
            #expect(error.code == code, "\(error)")
            #expect(error.position == position, "\(error)")
            #expect(error.reason.contains(reason), "\(error)")
            #expect(error.description == "policy error at position \(position): \(error.reason) (\(error.raisedAt))")
            #expect(error.file.hasSuffix("EndorsementPolicyParser.swift"))
        }
    }

    @Test func nestingDepthIsBounded() throws {
        let depthMax = Limits.policyNestingDepthMax
        #expect(depthMax == 32)
        func nested(_ depth: Int) -> String {
            String(repeating: "OR(", count: depth) + "'A.peer'" + String(repeating: ")", count: depth)
        }
        let deepest = try EndorsementPolicy.parse(nested(depthMax))
        #expect(deepest.isSatisfied(by: [Self.peerA1]))
        #expect(try EndorsementPolicy.parse(deepest.description) == deepest)
        do {
            _ = try EndorsementPolicy.parse(nested(depthMax + 1))
            Issue.record("accepted a policy nested \(depthMax + 1) deep")
        } catch {
            #expect(error.code == .tooDeep)
            #expect(error.position == 3 * depthMax + 1, "the operator that goes one level too deep")
            #expect(error.reason == "policy nests AND, OR and OutOf deeper than 32 levels")
        }
        // Far too deep fails the same way, without recursing further.
        #expect(throws: PolicyParseError.self) { try EndorsementPolicy.parse(nested(100_000 / 4)) }
    }

    @Test func lengthIsBounded() throws {
        let bytesMax = Limits.policyTextBytesMax
        #expect(bytesMax == 16 * 1024)
        let core = "OR('A.peer', 'B.peer')"
        let longest = core + String(repeating: " ", count: bytesMax - core.utf8.count)
        #expect(try EndorsementPolicy.parse(longest).description == core)
        do {
            _ = try EndorsementPolicy.parse(longest + " ")
            Issue.record("accepted a policy of \(bytesMax + 1) bytes")
        } catch {
            #expect(error.code == .tooLong)
            #expect(error.position == 1)
            #expect(error.reason == "policy is 16385 bytes, longer than the 16384 bytes allowed")
        }
        // Bytes, not characters: 8,193 two-byte characters are too long.
        #expect(throws: PolicyParseError.self) {
            try EndorsementPolicy.parse("'A.client[x=" + String(repeating: "é", count: bytesMax / 2) + "]'")
        }
    }
}
