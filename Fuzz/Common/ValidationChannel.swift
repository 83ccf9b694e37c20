// The channel that validation-driving targets (block, signed-envelope) check blocks against.
import BlockIntegrity
import Foundation
import Identity
import LedgerCore
import Committer
import LedgerWire
import WorldState

/// The MSPs, policies and committed chaincode definitions one channel's blocks are checked against.
struct ChannelUnderTest: Sendable {
    let verifier: BlockVerifier
    let validator: BlockValidator
    let definitions: [ChaincodeDefinition]
    let time: Date

    func state() -> InMemoryStateDatabase {
        let state = InMemoryStateDatabase()
        var seed = StateUpdateBatch()
        seed.put(namespace: "cc", key: "a", value: [1], version: StateVersion(blockNumber: 0, transactionNumber: 0))
        seed.put(namespace: "cc", key: "b", value: [2], version: StateVersion(blockNumber: 0, transactionNumber: 1))
        seed.put(namespace: "cc", key: "order", value: [3], version: StateVersion(blockNumber: 0, transactionNumber: 2))
        seed.putMetadata(
            namespace: "cc", key: "order",
            metadata: [StateMetadataName.validationParameter: Array("'HospitalAMSP.client[is_supervisor=true]'".utf8)],
            version: StateVersion(blockNumber: 0, transactionNumber: 2))
        for (index, definition) in definitions.enumerated() {
            seed.put(
                namespace: ChaincodeDefinition.namespace, key: ChaincodeDefinition.definitionKey(definition.name), value: definition.canonicalJSON,
                version: StateVersion(blockNumber: 0, transactionNumber: UInt32(3 + index)))
        }
        try? state.apply(seed, blockNumber: 0)
        return state
    }
}

let fixedChannel: ChannelUnderTest = {
    do {
        return ChannelUnderTest(
            verifier: BlockVerifier(membership: FuzzNetwork.ordererMembership, blockValidationPolicy: try EndorsementPolicy.parse("'OrdererMSP.orderer'")),
            validator: BlockValidator(
                channelID: FuzzPKI.channel, membership: FuzzNetwork.applicationMembership,
                lifecyclePolicy: try EndorsementPolicy.parse("AND('HospitalAMSP.peer', 'HospitalBMSP.peer')"),
                defaultPolicy: try EndorsementPolicy.parse("'HospitalAMSP.peer'")),
            definitions: [
                ChaincodeDefinition(name: "cc", version: "1.0", sequence: 1, endorsementPolicy: ""),
                ChaincodeDefinition(name: "two", version: "1.0", sequence: 1, endorsementPolicy: "AND('HospitalAMSP.peer', 'HospitalAMSP.peer')"),
                ChaincodeDefinition(name: "old", version: "2.0", sequence: 2, endorsementPolicy: ""),
            ],
            time: FuzzPKI.now)
    } catch {
        fuzzSetupFailure("fixed channel: \(error)")
    }
}()

