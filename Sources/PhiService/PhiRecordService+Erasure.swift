import Chaincode
import Endorser
import Foundation
import HealthChaincodes
import Identity
import LedgerWire
import OffChainStore

/// Erasure by crypto-shredding: the `Erase` request endorses the requester's own `phi erase`
/// proposal (the on-chain entry is written first, by the requester's transaction); once it commits
/// VALID, this peer destroys the erased versions' ciphertext and wrapped data keys in its store. A
/// sweep finds erasure entries whose versions a peer has not destroyed yet (it was down, or the
/// client never waited) and destroys them.
extension PhiRecordService {
    /// Checks the requester's `phi erase` proposal, endorses it and returns the transaction to sign.
    package func erase(_ erase: Medrex_PhiErase, identity: Data, channel: Channel, now: Date) async throws -> Medrex_PhiEraseResponse {
        let (proposal, request) = try ownPhiProposal(
            erase.erasureProposal, function: "erase", argument: ErasureRequest.self, identity: identity, channel: channel, now: now)
        // This peer's organization must keep the record: it is the one that destroys the bytes.
        let versions = try committedAnchors(recordID: request.recordID, channel: channel)
        guard let first = versions.first else {
            throw PhiServiceError(.notFound, "record '\(request.recordID)' has no anchor on channel \(settings.channelID)")
        }
        guard first.custodian == mspID else {
            throw PhiServiceError(.preconditionFailed, "record '\(first.recordID)' is kept by \(first.custodian); ask one of its peers")
        }
        let (transaction, result) = try await channel.gateway.endorse(erase.erasureProposal, channelID: settings.channelID)
        guard result.status < 400 else {
            metrics.countPhiRequest(operation: "erase", outcome: "refused")
            throw PhiServiceError(.accessDenied, "the phi chaincode refused the erasure (\(result.status)): \(result.message)")
        }
        let transactionID = proposal.transactionID
        let notifier = channel.notifier
        let timeout = settings.pendingTimeout
        Task {
            guard let outcome = await Self.outcome(of: transactionID, notifier: notifier, timeout: timeout), outcome.validationCode == .valid else { return }
            await self.shredErased(recordID: request.recordID, channel: channel)
        }
        metrics.countPhiRequest(operation: "erase", outcome: "endorsed")
        var response = Medrex_PhiEraseResponse()
        response.transactionID = transactionID
        response.preparedTransaction = transaction
        return response
    }

    /// Destroys the stored bytes of every erased version of the record this peer keeps.
    @discardableResult
    package func shredErased(recordID: String, channel: Channel) async -> Int {
        do {
            var erased: [PhiAnchor] = []
            for anchor in try committedAnchors(recordID: recordID, channel: channel) where anchor.custodian == mspID {
                if try committedErasure(recordID: recordID, version: anchor.version, channel: channel) != nil { erased.append(anchor) }
            }
            let count = try await store.erase(erased.map { RecordVersionID(recordID: $0.recordID, version: $0.version) })
            if count > 0 {
                logger.notice("erased record versions destroyed in the off-chain store", metadata: ["record": "\(recordID)", "count": "\(count)"])
            }
            return count
        } catch {
            logger.error("destroying erased record versions failed", metadata: ["record": "\(recordID)", "error": "\(error)"])
            return 0
        }
    }

    /// Destroys the stored bytes of every version erased on the chain that this peer's
    /// organization keeps and the store still holds. Returns how many it destroyed.
    @discardableResult
    package func shredAllErased(channel: Channel) async throws -> Int {
        let reader = try channel.blocks.ledger.state.makeReader()
        var destroyed = 0
        var bookmark: String?
        repeat {
            let page = try reader.partialCompositeKey(
                namespace: PhiContract.name, objectType: PhiContract.erasureObjectType, attributes: [], pageSize: 1000, startKey: bookmark)
            var ids: [RecordVersionID] = []
            for entry in page.entries {
                guard let erasure = try? JSONDecoder().decode(ErasureEntry.self, from: Data(entry.value.value)), erasure.custodian == mspID else {
                    continue
                }
                ids.append(RecordVersionID(recordID: erasure.recordID, version: erasure.version))
            }
            var present: [RecordVersionID] = []
            for id in ids where try await store.get(recordID: id.recordID, version: id.version) != nil { present.append(id) }
            destroyed += try await store.erase(present)
            bookmark = page.bookmark
        } while bookmark != nil
        return destroyed
    }

    /// Runs until cancelled: every `jobInterval`, destroys what erasures left in the store.
    package func sweepErasures() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: settings.jobInterval)
            guard !Task.isCancelled, let channel = channel() else { continue }
            do {
                let destroyed = try await shredAllErased(channel: channel)
                if destroyed > 0 { logger.notice("destroyed erased record versions", metadata: ["count": "\(destroyed)"]) }
            } catch {
                logger.error("sweeping erased record versions failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// The lease that lets one of the peers sharing a store enforce the retention rules.
    static let retentionLease = "retention-erasure"

    /// Runs until cancelled: every `retentionInterval`, when it holds the retention lease, erases
    /// the versions past their erase-by date (`enforceRetention`).
    package func enforceRetentionRules(holder: String) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: settings.retentionInterval)
            guard !Task.isCancelled, let channel = channel() else { continue }
            do {
                guard try await store.acquireLease(Self.retentionLease, holder: holder, for: 600) else { continue }
                let erased = try await enforceRetention(channel: channel, now: Date())
                if erased > 0 { logger.notice("erased record versions past their retention", metadata: ["count": "\(erased)"]) }
            } catch {
                logger.error("enforcing the retention rules failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Erases, through the chain (`phi erase` with reason `retention-expired`, signed by this
    /// peer), every version this organization keeps whose resource type has an `eraseAfterYears`
    /// rule and which was anchored that many years before `now`; the contract checks the date
    /// again at the transaction time. Scans the anchors of the committed state. Returns how many
    /// versions it erased.
    @discardableResult
    package func enforceRetention(channel: Channel, now: Date) async throws -> Int {
        let reader = try channel.blocks.ledger.state.makeReader()
        let rules = try reader.partialCompositeKey(
            namespace: PhiContract.name, objectType: PhiContract.retentionObjectType, attributes: [mspID], pageSize: 1000
        ).entries.compactMap { try? JSONDecoder().decode(RetentionRule.self, from: Data($0.value.value)) }
        guard rules.contains(where: { $0.eraseAfterYears != nil }) else { return 0 }
        let today = try HealthTime.string(now)
        var due: [PhiAnchor] = []
        var bookmark: String?
        repeat {
            let page = try reader.partialCompositeKey(
                namespace: PhiContract.name, objectType: PhiContract.anchorObjectType, attributes: [], pageSize: 1000, startKey: bookmark)
            let anchors = page.entries.compactMap { try? JSONDecoder().decode(PhiAnchor.self, from: Data($0.value.value)) }
            for anchor in Self.pastRetention(anchors, rules: rules, custodian: mspID, today: today)
            where try committedErasure(recordID: anchor.recordID, version: anchor.version, channel: channel) == nil {
                due.append(anchor)
            }
            bookmark = page.bookmark
        } while bookmark != nil
        var erased = 0
        for anchor in due {
            try await submitAsPeer(
                chaincode: PhiContract.name, function: "erase",
                argument: ErasureRequest(recordID: anchor.recordID, version: anchor.version, reason: "retention-expired"), channel: channel)
            erased += 1
            await shredErased(recordID: anchor.recordID, channel: channel)
        }
        return erased
    }

    /// The anchors of `custodian` whose resource type has an `eraseAfterYears` rule of its own and
    /// which were anchored at least that many calendar years before `today` (fixed-width time).
    package static func pastRetention(_ anchors: [PhiAnchor], rules: [RetentionRule], custodian: String, today: String) -> [PhiAnchor] {
        let eraseAfter = Dictionary(
            rules.filter { $0.custodian == custodian }.compactMap { rule in rule.eraseAfterYears.map { (rule.resourceType, $0) } },
            uniquingKeysWith: { first, _ in first })
        return anchors.filter { anchor in
            guard anchor.custodian == custodian, let years = eraseAfter[anchor.resourceType],
                let dueAt = HealthTime.adding(years: years, to: anchor.anchoredAt)
            else { return false }
            return dueAt <= today
        }
    }

    /// Every anchored version of the record in the committed world state, lowest first.
    func committedAnchors(recordID: String, channel: Channel) throws -> [PhiAnchor] {
        let reader = try channel.blocks.ledger.state.makeReader()
        let page = try reader.partialCompositeKey(
            namespace: PhiContract.name, objectType: PhiContract.anchorObjectType, attributes: [recordID], pageSize: 10_000)
        return page.entries.compactMap { try? JSONDecoder().decode(PhiAnchor.self, from: Data($0.value.value)) }
    }
}
