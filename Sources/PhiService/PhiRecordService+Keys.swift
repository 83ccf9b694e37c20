import Crypto
import Endorser
import Foundation
import HealthChaincodes
import Identity
import LedgerWire
import NodeClients
import OffChainStore

/// The custodian key's versions: the `Keys` request (status, and rotation by the custodian's
/// admins and operators) and the background job that re-wraps data keys to the current version,
/// audits each batch on the chain, and retires versions no data key uses any more.
extension PhiRecordService {
    /// The lease that lets one of the peers sharing a store run the re-wrap job.
    static let rewrapLease = "custodian-key-rewrap"

    /// Key status, and with `rotate` a new version first (recorded on the chain as `rotated`; when
    /// that entry cannot be written, the new version is destroyed again and nothing changed).
    package func keys(_ keys: Medrex_PhiKeys, requester: ValidatedIdentity, channel: Channel) async throws -> Medrex_PhiKeysResponse {
        guard requester.mspID == mspID, requester.role == .admin || requester.attributes["role"] == "operator" else {
            throw PhiServiceError(.accessDenied, "only an admin or an operator of \(mspID) may manage its custodian key")
        }
        let keyring = custodian.keyring
        if keys.rotate {
            let created: any CustodianKeyVersion
            do {
                created = try keyring.rotate()
            } catch {
                throw PhiServiceError(.keyUnavailable, "cannot make a new custodian key version: \(error.reason)")
            }
            do {
                try await submitAsPeer(
                    chaincode: PhiContract.name, function: "keyEvent", argument: KeyEventRequest(event: "rotated", keyVersion: created.version),
                    channel: channel)
            } catch {
                try? keyring.discard(version: created.version)
                throw PhiServiceError(.preconditionFailed, "the rotation could not be recorded on the chain, so version \(created.version) was destroyed again: \(error)")
            }
            logger.notice("custodian key rotated", metadata: ["version": "\(created.version)", "location": "\(keyring.store.location)"])
            metrics.countPhiRequest(operation: "keys", outcome: "rotated")
        }
        do {
            try keyring.refresh()
        } catch {
            throw PhiServiceError(.keyUnavailable, "cannot read the custodian key versions: \(error.reason)")
        }
        let counts: [UInt32: Int]
        do {
            counts = try await store.wrapCounts()
        } catch {
            throw PhiServiceError(.storeUnavailable, error.reason)
        }
        var response = Medrex_PhiKeysResponse()
        response.location = keyring.store.location
        response.currentVersion = keyring.current.version
        let loaded = keyring.loadedVersions
        for number in Set(loaded.map(\.version)).union(counts.keys).sorted() {
            var version = Medrex_PhiKeyVersion()
            version.version = number
            version.keyID = loaded.first { $0.version == number }?.keyID ?? "(gone)"
            version.wrappedKeys = UInt64(counts[number] ?? 0)
            response.versions.append(version)
        }
        return response
    }

    /// Runs until cancelled: every `jobInterval`, when it holds the re-wrap lease, re-wraps the
    /// data keys not under the current version (in batches, rate-limited, each batch recorded on
    /// the chain before it is applied), then retires older versions that wrap nothing.
    /// Resumable: what is left is whatever the store still holds under older versions.
    package func rewrapKeys(holder: String) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: settings.jobInterval)
            guard !Task.isCancelled, let channel = channel() else { continue }
            do {
                guard try await store.acquireLease(Self.rewrapLease, holder: holder, for: 120) else { continue }
                try await rewrapPass(holder: holder, channel: channel)
            } catch is CancellationError {
                return
            } catch {
                logger.error("re-wrapping data keys failed; retrying", metadata: ["error": "\(error)"])
            }
        }
    }

    /// One pass over the store: re-wraps every data key not under the current version, then
    /// retires the versions that wrap nothing. Returns how many keys it re-wrapped.
    @discardableResult
    package func rewrapPass(holder: String, channel: Channel) async throws -> Int {
        let keyring = custodian.keyring
        try keyring.refresh()
        let current = keyring.current.version
        var cursor: RecordVersionID?
        var total = 0
        while !Task.isCancelled {
            let started = ContinuousClock.now
            let wraps = try await store.wrapsToRotate(notUnder: current, after: cursor, limit: settings.rewrapBatchSize)
            guard let last = wraps.last else { break }
            cursor = last.id
            var replacements: [WrapReplacement] = []
            for wrap in wraps {
                do {
                    replacements.append(
                        WrapReplacement(old: wrap, new: try custodian.rewrapToCurrent(wrap.wrapped, recordID: wrap.id.recordID, version: wrap.id.version)))
                } catch where error.code == .keyUnavailable {
                    throw error
                } catch {
                    // A key that does not open is an integrity problem of that version, found and
                    // audited when it is read or verified; it must not stop the rotation.
                    logger.error(
                        "a data key could not be re-wrapped", metadata: ["record": "\(wrap.id.recordID)", "version": "\(wrap.id.version)", "error": "\(error)"])
                }
            }
            guard !replacements.isEmpty else { continue }
            // Recorded first: the chain never misses a batch that was applied.
            let listed = replacements.map { "\($0.old.id.recordID)\u{0}\($0.old.id.version)\u{0}\($0.old.position)\n" }.joined()
            try await submitAsPeer(
                chaincode: PhiContract.name, function: "keyEvent",
                argument: KeyEventRequest(
                    event: "rewrapped", keyVersion: current, count: UInt32(replacements.count), firstRecord: replacements[0].old.id.recordID,
                    lastRecord: last.id.recordID, batchSHA256: SHA256.hash(data: Data(listed.utf8)).map { String(format: "%02x", $0) }.joined()),
                channel: channel)
            total += try await store.replaceWraps(replacements)
            guard try await store.acquireLease(Self.rewrapLease, holder: holder, for: 120) else { return total }
            // Rate limit: a batch of n keys takes at least n / keysPerSecond seconds.
            let budget = Duration.milliseconds(replacements.count * 1000 / max(settings.rewrapKeysPerSecond, 1))
            let elapsed = ContinuousClock.now - started
            if elapsed < budget { try await Task.sleep(for: budget - elapsed) }
        }
        if total > 0 { logger.notice("re-wrapped data keys", metadata: ["count": "\(total)", "version": "\(current)"]) }
        let counts = try await store.wrapCounts()
        for version in keyring.versionNumbers where version != current && (counts[version] ?? 0) == 0 {
            try await submitAsPeer(
                chaincode: PhiContract.name, function: "keyEvent", argument: KeyEventRequest(event: "retired", keyVersion: version), channel: channel)
            try keyring.retire(version: version)
            logger.notice("custodian key version retired", metadata: ["version": "\(version)"])
        }
        return total
    }

    /// Submits `chaincode function ARGUMENT_JSON` signed by this peer and waits until it commits
    /// VALID; throws otherwise.
    func submitAsPeer<Argument: Encodable>(chaincode: String, function: String, argument: Argument, channel: Channel) async throws {
        let json = String(decoding: try JSONEncoder().encode(argument), as: UTF8.self)
        let proposal = try ProposalFactory.make(
            channel: settings.channelID, chaincode: chaincode, arguments: [function, json], signer: signer, timestamp: Date())
        var (envelope, result) = try await channel.gateway.endorse(proposal, channelID: settings.channelID)
        guard result.status < 400 else {
            throw PhiServiceError(.preconditionFailed, "\(chaincode) \(function) was refused (\(result.status)): \(result.message)")
        }
        envelope.signature = Data(try signer.sign(envelope.payload))
        try await channel.gateway.submit(envelope, channelID: settings.channelID)
        let txID = try GatewayClient.transactionID(of: proposal)
        let outcome = await Self.outcome(of: txID, notifier: channel.notifier, timeout: .seconds(30))
        guard outcome?.validationCode == .valid else {
            throw PhiServiceError(
                .preconditionFailed, "\(chaincode) \(function) (txid \(txID)) committed as \(outcome.map { "\($0.validationCode)" } ?? "nothing within 30 s")")
        }
    }
}
