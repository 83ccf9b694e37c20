import GRPCCore

/// Decides the next request: which method (every method once per cycle, in a shuffled order),
/// which node, how many messages and how the call ends, and what each message is — a valid one,
/// a seed, a mutation of either, a valid one whose signed part was mutated and signed again,
/// random bytes, an empty message, a malformed encoding, another method's message, or one above
/// the nodes' size limit.
struct RequestGenerator {
    typealias ValidMessages = [FuzzedMethod.Input: [ValidRequestFactory.Message]]

    /// One message in this many is larger than the nodes accept (gRPC's default 4 MiB).
    static let oversizedOneIn = 1500
    static let oversizedBytes = 4 * 1024 * 1024 + 16
    /// One request in this many goes to a node of the other role (which does not serve it).
    static let otherRoleOneIn = 40
    static let manyMessagesMax = 200
    static let randomBytesMax = 512

    let methods: [FuzzedMethod]
    let targets: [FuzzTarget]
    let corpus: SeedCorpus
    let channel: String
    /// Signs the re-signed mutations.
    let factory: ValidRequestFactory
    let mutator: MessageMutator
    /// For what the admin signs: no config block or CONFIG envelope among its donors, so that no
    /// mutation can make a JoinChannel the peer carries out.
    let adminMutator: MessageMutator
    private var cycle: [FuzzedMethod] = []
    private var nextSequence = 0

    /// Only methods served by a role among `targets`; `methods` and `targets` must not be empty.
    init(methods: [FuzzedMethod], targets: [FuzzTarget], corpus: SeedCorpus, channel: String, factory: ValidRequestFactory) {
        let roles = Set(targets.map(\.role))
        self.methods = methods.filter { roles.contains($0.role) }
        self.targets = targets
        self.corpus = corpus
        self.channel = channel
        self.factory = factory
        mutator = MessageMutator(donors: corpus.all)
        adminMutator = MessageMutator(donors: corpus.withoutConfiguration)
    }

    mutating func next(valid: ValidMessages, random: inout FuzzRandom) -> FuzzRequest {
        if cycle.isEmpty { cycle = methods.shuffled(using: &random) }
        let method = cycle.removeLast()
        let target = chooseTarget(for: method, random: &random)
        let (count, ending) = shape(of: method.type, random: &random)
        // The messages draw from a generator of their own: how much randomness a mutation takes
        // depends on the valid messages, whose signatures and timestamps differ between runs;
        // this way a seed still gives the same methods, nodes and shapes, request by request.
        var messageRandom = FuzzRandom(seed: random.next())
        var messages: [[UInt8]] = []
        for _ in 0..<count { messages.append(message(for: method.input, valid: valid, random: &messageRandom)) }
        nextSequence += 1
        return FuzzRequest(sequence: nextSequence, target: target.name, method: method, messages: messages, ending: ending)
    }

    private func chooseTarget(for method: FuzzedMethod, random: inout FuzzRandom) -> FuzzTarget {
        let serving = targets.filter { $0.role == method.role }
        let others = targets.filter { $0.role != method.role }
        if !others.isEmpty && random.chance(1, in: Self.otherRoleOneIn) { return random.element(of: others) }
        return random.element(of: serving)
    }

    /// How many messages, and how the call ends.
    private func shape(of type: MethodDescriptor.RPCType, random: inout FuzzRandom) -> (Int, FuzzRequest.Ending) {
        let roll = random.below(100)
        guard type.isRequestStreaming else {
            switch roll {
            case ..<86: return (1, .complete)
            case ..<90: return (0, .complete)
            case ..<94: return (2 + random.below(2), .complete)
            case ..<97: return (1, .cancelWhileSending)
            default: return (1, .cancelBeforeResponse)
            }
        }
        switch roll {
        case ..<45: return (1, .complete)
        case ..<65: return (2 + random.below(7), .complete)
        case ..<71: return (20 + random.below(Self.manyMessagesMax - 19), .complete)
        case ..<75: return (0, .complete)
        case ..<88: return (1 + random.below(8), .cancelWhileSending)
        default: return (1 + random.below(4), .cancelBeforeResponse)
        }
    }

    private func message(for input: FuzzedMethod.Input, valid: ValidMessages, random: inout FuzzRandom) -> [UInt8] {
        if random.chance(1, in: Self.oversizedOneIn) {
            let base = base(for: input, valid: valid, random: &random)
            let padding = max(0, Self.oversizedBytes - base.count)
            return base + ProtobufWire.lengthDelimited(ProtobufWire.fieldNumberMax, Array(repeating: 0x41, count: padding))
        }
        switch random.below(100) {
        case ..<8: return base(for: input, valid: valid, random: &random)
        case ..<42: return mutator.mutate(base(for: input, valid: valid, random: &random), random: &random)
        case ..<70:
            if let resigned = resignedMutation(for: input, valid: valid, random: &random) { return resigned }
            return mutator.mutate(base(for: input, valid: valid, random: &random), random: &random)
        case ..<78: return random.bytes(count: random.below(Self.randomBytesMax))
        case ..<82: return []
        case ..<90: return malformedEncoding(random: &random)
        default:
            let other = random.element(of: FuzzedMethod.Input.allCases)
            let message = base(for: other, valid: valid, random: &random)
            return random.chance(1, in: 2) ? message : mutator.mutate(message, random: &random)
        }
    }

    /// A valid message (three times in four, when there is one) or a seed fitted to the method.
    private func base(for input: FuzzedMethod.Input, valid: ValidMessages, random: inout FuzzRandom) -> [UInt8] {
        let made = valid[input] ?? []
        if !made.isEmpty && (random.chance(3, in: 4) || corpus.count == 0) { return random.element(of: made).bytes }
        return seedMessage(for: input, random: &random) ?? made.first?.bytes ?? []
    }

    // MARK: Re-signed mutations

    /// Where the signed message (`bytes` 1 signed, `bytes` 2 the signature: Envelope,
    /// SignedProposal, the signed gateway, admin and PHI requests) sits in a request of `input`:
    /// the field numbers down to it; empty when the request is that message.
    static func signedMessagePaths(_ input: FuzzedMethod.Input) -> [[UInt64]] {
        switch input {
        case .seekEnvelope, .transactionEnvelope, .signedProposal, .signedCommitStatusRequest, .signedChaincodeEventsRequest,
            .signedAdminJoinChannel, .signedAdminListChannels, .signedPhiPut, .signedPhiGet, .signedPhiVerify, .signedPhiKeys, .signedPhiErase:
            [[]]
        case .endorsementRequest: [[2]]
        case .transactRequest: [[3], [4]]
        case .endorseRequest, .evaluateRequest, .submitRequest: [[3]]
        case .unknown: []
        }
    }

    /// A valid message of `input` whose signed bytes were mutated and then signed again by the
    /// identity that signed them: it passes the signature check (unless the mutation changed the
    /// creator) and reaches what reads the signed bytes — header checks, chaincode arguments,
    /// read/write sets the orderer cuts into blocks and the peers validate. Nil when there is no
    /// valid message of `input` or signing fails.
    private func resignedMutation(for input: FuzzedMethod.Input, valid: ValidMessages, random: inout FuzzRandom) -> [UInt8]? {
        let made = valid[input] ?? []
        let paths = Self.signedMessagePaths(input)
        guard !made.isEmpty, !paths.isEmpty else { return nil }
        let message = random.element(of: made)
        let signer = factory.signer(of: message)
        let mutator = message.signedByAdmin ? adminMutator : mutator
        for path in paths.shuffled(using: &random) {
            let resigned = Self.replacingSignedMessage(in: message.bytes, at: path[...], random: &random) { signed, random in
                let mutated = mutator.mutate(signed, random: &random)
                guard let signature = try? signer.sign(mutated) else { return nil }
                return (mutated, signature)
            }
            if let resigned { return resigned }
        }
        return nil
    }

    /// `message` with the signed message at `path` replaced by what `change` makes of its signed
    /// bytes (the new bytes and their signature); nil when `path` leads nowhere.
    static func replacingSignedMessage(
        in message: [UInt8], at path: ArraySlice<UInt64>, random: inout FuzzRandom,
        _ change: ([UInt8], inout FuzzRandom) -> (signed: [UInt8], signature: [UInt8])?
    ) -> [UInt8]? {
        guard var fields = ProtobufWire.fields(message) else { return nil }
        let number = path.first ?? 1
        guard let index = fields.lastIndex(where: { $0.number == number && $0.wireType == ProtobufWire.lengthDelimitedWireType }) else { return nil }
        guard !path.isEmpty else {
            guard let (signed, signature) = change(fields[index].value, &random) else { return nil }
            fields[index].value = signed
            fields.removeAll { $0.number == 2 }
            fields.append(ProtobufWire.Field(number: 2, wireType: ProtobufWire.lengthDelimitedWireType, value: signature))
            return ProtobufWire.encode(fields)
        }
        guard let inner = replacingSignedMessage(in: fields[index].value, at: path.dropFirst(), random: &random, change) else { return nil }
        fields[index].value = inner
        return ProtobufWire.encode(fields)
    }

    /// A seed from Fuzz/Seeds, as the method's request or wrapped into it; nil without seeds.
    private func seedMessage(for input: FuzzedMethod.Input, random: inout FuzzRandom) -> [UInt8]? {
        func pick(_ seeds: [[UInt8]]) -> [UInt8] { seeds.isEmpty ? random.bytes(count: random.below(64)) : random.element(of: seeds) }
        guard corpus.count > 0 else { return nil }
        let channelField = ProtobufWire.lengthDelimited(2, channel)
        let signature = ProtobufWire.lengthDelimited(2, random.bytes(count: 70))
        switch input {
        case .seekEnvelope, .transactionEnvelope:
            return pick(corpus.envelopes)
        case .signedProposal:
            return pick(corpus.signedProposals)
        case .endorsementRequest:
            return ProtobufWire.varintField(1, random.next()) + ProtobufWire.lengthDelimited(2, pick(corpus.signedProposals))
        case .transactRequest:
            let step = random.chance(1, in: 2)
                ? ProtobufWire.lengthDelimited(3, pick(corpus.signedProposals)) : ProtobufWire.lengthDelimited(4, pick(corpus.envelopes))
            return ProtobufWire.varintField(1, random.next()) + channelField + step
        case .endorseRequest, .evaluateRequest:
            return ProtobufWire.lengthDelimited(1, "fuzz") + channelField + ProtobufWire.lengthDelimited(3, pick(corpus.signedProposals))
        case .submitRequest:
            return ProtobufWire.lengthDelimited(1, "fuzz") + channelField + ProtobufWire.lengthDelimited(3, pick(corpus.envelopes))
        case .signedCommitStatusRequest:
            let request = ProtobufWire.lengthDelimited(1, "fuzz") + channelField + ProtobufWire.lengthDelimited(3, pick(corpus.serializedIdentities))
            return ProtobufWire.lengthDelimited(1, request) + signature
        case .signedChaincodeEventsRequest:
            let request = ProtobufWire.lengthDelimited(1, channel) + ProtobufWire.lengthDelimited(2, "kv")
                + ProtobufWire.lengthDelimited(3, pick(corpus.serializedIdentities))
            return ProtobufWire.lengthDelimited(1, request) + signature
        case .signedAdminJoinChannel:
            let join = ProtobufWire.lengthDelimited(1, pick(corpus.blocks))
            let request = ProtobufWire.lengthDelimited(1, pick(corpus.serializedIdentities)) + ProtobufWire.lengthDelimited(3, join)
            return ProtobufWire.lengthDelimited(1, request) + signature
        case .signedAdminListChannels:
            let request = ProtobufWire.lengthDelimited(1, pick(corpus.serializedIdentities)) + ProtobufWire.lengthDelimited(4, [])
            return ProtobufWire.lengthDelimited(1, request) + signature
        case .signedPhiPut, .signedPhiGet, .signedPhiVerify, .signedPhiKeys, .signedPhiErase:
            let body: [UInt8] = switch input {
            case .signedPhiPut: ProtobufWire.lengthDelimited(4, ProtobufWire.lengthDelimited(1, "{}") + ProtobufWire.lengthDelimited(2, pick(corpus.signedProposals)))
            case .signedPhiGet: ProtobufWire.lengthDelimited(5, ProtobufWire.lengthDelimited(1, "fuzz"))
            case .signedPhiKeys: ProtobufWire.lengthDelimited(7, ProtobufWire.varintField(1, random.next() % 2))
            case .signedPhiErase: ProtobufWire.lengthDelimited(8, ProtobufWire.lengthDelimited(1, pick(corpus.signedProposals)))
            default: ProtobufWire.lengthDelimited(6, ProtobufWire.lengthDelimited(1, "fuzz") + ProtobufWire.varintField(2, random.next()))
            }
            let request = ProtobufWire.lengthDelimited(1, pick(corpus.serializedIdentities)) + ProtobufWire.lengthDelimited(3, channel) + body
            return ProtobufWire.lengthDelimited(1, request) + signature
        case .unknown:
            return pick(corpus.all)
        }
    }

    /// A short message that is all edge: a tag without a value, an unterminated or overlong
    /// varint, a length prefix far past the end.
    private func malformedEncoding(random: inout FuzzRandom) -> [UInt8] {
        let field = UInt64(1 + random.below(5))
        let lengthTag = ProtobufWire.tag(number: field, wireType: ProtobufWire.lengthDelimitedWireType)
        switch random.below(5) {
        case 0: return lengthTag
        case 1: return ProtobufWire.tag(number: field, wireType: ProtobufWire.varintWireType) + Array(repeating: 0x80, count: 1 + random.below(12))
        case 2: return Array(repeating: 0xFF, count: 1 + random.below(12))
        case 3: return lengthTag + ProtobufWire.varint(random.element(of: MessageMutator.hugeLengths)) + random.bytes(count: random.below(8))
        default: return lengthTag + ProtobufWire.varint(UInt64(2 + random.below(64))) + random.bytes(count: 1)
        }
    }
}
