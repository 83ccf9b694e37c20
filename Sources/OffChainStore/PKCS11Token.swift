import CPKCS11
import Crypto
import Foundation
import Synchronization

/// One PKCS#11 token (an HSM, or Debian's SoftHSM in tests and small deployments) as the custodian
/// uses it: AES-256 keys that never leave the token, found by label, made and destroyed on it, and
/// AES-GCM encryption of data keys inside it.
///
/// The module (a shared library such as `/usr/lib/softhsm/libsofthsm2.so`) is loaded with dlopen
/// and initialized once per process (`PKCS11Module`). The token is found by its label and logged
/// into as its user with the PIN given; sessions are pooled, each used by one call at a time (a
/// PKCS#11 session is not safe for concurrent use). Errors name the library, the token and the
/// PKCS#11 return code, never the PIN or key bytes.
package final class PKCS11Token: Sendable {
    package let tokenLabel: String
    private let module: PKCS11Module
    private let slot: CK_SLOT_ID
    private let loginSession: CK_SESSION_HANDLE
    /// The newest handle of each key label seen: handles can change when the token re-indexes.
    private let handles = Mutex<[String: CK_OBJECT_HANDLE]>([:])
    private let idleSessions = Mutex<[CK_SESSION_HANDLE]>([])
    /// Sessions kept open for reuse; more may be open while calls run concurrently.
    private static let idleSessionsMax = 8

    /// Loads `library`, finds the token labelled `tokenLabel` and logs in with `pin`. Throws
    /// `.keyUnavailable` when the library does not load, no such token is present or the PIN is
    /// wrong or locked.
    package init(library: String, tokenLabel: String, pin: String) throws(OffChainStoreError) {
        self.tokenLabel = tokenLabel
        module = try PKCS11Module.loaded(library)
        slot = try module.slot(labelled: tokenLabel)
        // PKCS#11 logs the application out when its last session with the token closes: this
        // session stays open for the token's life and is used for nothing else.
        let session = try module.openSession(slot, token: tokenLabel)
        loginSession = session
        // Login is per process and token: once one token object logged in, C_Login answers
        // "already logged in" to any PIN, so the module remembers (a hash of) the PIN that worked,
        // logging in and remembering under one lock.
        let pinDigest = Data(SHA256.hash(data: Data(pin.utf8)))
        let (rv, samePIN) = module.login(session: session, token: tokenLabel, pin: pin, pinDigest: pinDigest)
        switch rv {
        case CK_RV(CKR_OK):
            break
        case CK_RV(CKR_USER_ALREADY_LOGGED_IN):
            guard samePIN else {
                _ = module.functions.pointee.C_CloseSession(session)
                throw OffChainStoreError(.keyUnavailable, "the PIN for PKCS#11 token '\(tokenLabel)' is wrong")
            }
        case CK_RV(CKR_PIN_INCORRECT):
            _ = module.functions.pointee.C_CloseSession(session)
            throw OffChainStoreError(.keyUnavailable, "the PIN for PKCS#11 token '\(tokenLabel)' is wrong")
        case CK_RV(CKR_PIN_LOCKED):
            _ = module.functions.pointee.C_CloseSession(session)
            throw OffChainStoreError(.keyUnavailable, "the PIN of PKCS#11 token '\(tokenLabel)' is locked")
        default:
            _ = module.functions.pointee.C_CloseSession(session)
            throw module.failure("log into token '\(tokenLabel)'", rv)
        }
    }

    deinit {
        for session in idleSessions.withLock({ $0 }) { _ = module.functions.pointee.C_CloseSession(session) }
        _ = module.functions.pointee.C_CloseSession(loginSession)
    }

    /// A secret key on the token: its object handle and label.
    package struct SecretKey: Sendable, Hashable {
        package let handle: CK_OBJECT_HANDLE
        package let label: String
    }

    /// Every secret key object on the token (in no order). A search that meets a handle gone stale
    /// meanwhile (the token re-indexed its objects) is run again.
    package func secretKeys() throws(OffChainStoreError) -> [SecretKey] {
        var attempt = 0
        while true {
            attempt += 1
            if let keys = try searchSecretKeys() {
                handles.withLock { handles in for key in keys { handles[key.label] = key.handle } }
                return keys
            }
            guard attempt < 3 else { throw OffChainStoreError(.keyUnavailable, "the objects of token '\(tokenLabel)' keep changing during a search") }
        }
    }

    /// The secret keys, or nil when a handle went stale during the search.
    private func searchSecretKeys() throws(OffChainStoreError) -> [SecretKey]? {
        try withSession { session throws(OffChainStoreError) in
            var keyClass = CK_OBJECT_CLASS(CKO_SECRET_KEY)
            let handles: [CK_OBJECT_HANDLE] = try withUnsafeMutableBytes(of: &keyClass) { classBytes throws(OffChainStoreError) in
                var template = [CK_ATTRIBUTE(type: CK_ATTRIBUTE_TYPE(CKA_CLASS), pValue: classBytes.baseAddress, ulValueLen: CK_ULONG(classBytes.count))]
                let rv = module.functions.pointee.C_FindObjectsInit(session, &template, CK_ULONG(template.count))
                guard rv == CKR_OK else { throw module.failure("search token '\(tokenLabel)'", rv) }
                defer { _ = module.functions.pointee.C_FindObjectsFinal(session) }
                var found: [CK_OBJECT_HANDLE] = []
                var page = [CK_OBJECT_HANDLE](repeating: 0, count: 64)
                while true {
                    var count: CK_ULONG = 0
                    let rv = module.functions.pointee.C_FindObjects(session, &page, CK_ULONG(page.count), &count)
                    guard rv == CKR_OK else { throw module.failure("search token '\(tokenLabel)'", rv) }
                    guard count > 0 else { break }
                    found += page.prefix(Int(min(count, CK_ULONG(page.count))))
                    guard found.count <= 100_000 else { break }
                }
                return found
            }
            var keys: [SecretKey] = []
            for handle in handles {
                guard let label = try label(of: handle, session: session) else { return nil }
                keys.append(SecretKey(handle: handle, label: label))
            }
            return keys
        }
    }

    /// Makes a new AES-256 key on the token, sensitive and not extractable, usable only to encrypt
    /// and decrypt, labelled `label`.
    package func generateAESKey(label: String) throws(OffChainStoreError) -> SecretKey {
        try withSession { session throws(OffChainStoreError) in
            var mechanism = CK_MECHANISM(mechanism: CK_MECHANISM_TYPE(CKM_AES_KEY_GEN), pParameter: nil, ulParameterLen: 0)
            var keyClass = CK_OBJECT_CLASS(CKO_SECRET_KEY)
            var keyType = CK_KEY_TYPE(CKK_AES)
            var length = CK_ULONG(32)
            var yes = CK_BBOOL(CK_TRUE)
            var no = CK_BBOOL(CK_FALSE)
            var labelBytes = Array(label.utf8)
            var handle = CK_OBJECT_HANDLE(CK_INVALID_HANDLE)
            let rv = withUnsafeMutableBytes(of: &keyClass) { keyClass in
                withUnsafeMutableBytes(of: &keyType) { keyType in
                    withUnsafeMutableBytes(of: &length) { length in
                        withUnsafeMutableBytes(of: &yes) { yes in
                            withUnsafeMutableBytes(of: &no) { no in
                                labelBytes.withUnsafeMutableBytes { labelBytes in
                                    func attribute(_ type: UInt, _ bytes: UnsafeMutableRawBufferPointer) -> CK_ATTRIBUTE {
                                        CK_ATTRIBUTE(type: CK_ATTRIBUTE_TYPE(type), pValue: bytes.baseAddress, ulValueLen: CK_ULONG(bytes.count))
                                    }
                                    var template = [
                                        attribute(CKA_CLASS, keyClass), attribute(CKA_KEY_TYPE, keyType), attribute(CKA_VALUE_LEN, length),
                                        attribute(CKA_TOKEN, yes), attribute(CKA_PRIVATE, yes), attribute(CKA_SENSITIVE, yes),
                                        attribute(CKA_EXTRACTABLE, no), attribute(CKA_ENCRYPT, yes), attribute(CKA_DECRYPT, yes),
                                        attribute(CKA_WRAP, no), attribute(CKA_UNWRAP, no), attribute(CKA_LABEL, labelBytes),
                                    ]
                                    return module.functions.pointee.C_GenerateKey(session, &mechanism, &template, CK_ULONG(template.count), &handle)
                                }
                            }
                        }
                    }
                }
            }
            guard rv == CKR_OK else { throw module.failure("make a key on token '\(tokenLabel)'", rv) }
            return SecretKey(handle: handle, label: label)
        }
    }

    /// Destroys a key object: whatever it encrypted can no longer be decrypted.
    package func destroy(_ key: SecretKey) throws(OffChainStoreError) {
        let (_, rv): (Void?, CK_RV) = try withFreshHandle(key) { handle throws(OffChainStoreError) in
            try withSession { session in (nil, module.functions.pointee.C_DestroyObject(session, handle)) }
        }
        guard rv == CKR_OK else { throw module.failure("destroy key '\(key.label)' on token '\(tokenLabel)'", rv) }
        _ = handles.withLock { $0.removeValue(forKey: key.label) }
    }

    /// AES-256-GCM inside the token: `nonce` (12 bytes), `associatedData` authenticated, a 16-byte
    /// tag appended to the ciphertext.
    package func encrypt(_ plaintext: Data, key: SecretKey, nonce: Data, associatedData: Data) throws(OffChainStoreError) -> Data {
        try gcm(encrypting: true, plaintext, key: key, nonce: nonce, associatedData: associatedData)
    }

    /// Opens what `encrypt` made; throws `.wrongKey` when the tag does not authenticate.
    ///
    /// Tokens report a failed tag in different ways (SoftHSM: CKR_GENERAL_ERROR), which may also
    /// mean a failing token; so a failure is checked with a round trip of known bytes under the
    /// same key: when that works, the input was wrong (`.wrongKey`), otherwise the token is
    /// (`.keyUnavailable`). A hiccup of the HSM is never reported as tampered data.
    package func decrypt(_ ciphertext: Data, key: SecretKey, nonce: Data, associatedData: Data) throws(OffChainStoreError) -> Data {
        do {
            return try gcm(encrypting: false, ciphertext, key: key, nonce: nonce, associatedData: associatedData)
        } catch where error.code == .keyUnavailable {
            let probe = Data(repeating: 0x5a, count: 32)
            let probeNonce = Data(repeating: 0, count: 12)
            guard let sealed = try? gcm(encrypting: true, probe, key: key, nonce: probeNonce, associatedData: Data()),
                (try? gcm(encrypting: false, sealed, key: key, nonce: probeNonce, associatedData: Data())) == probe
            else { throw error }
            throw OffChainStoreError(.wrongKey, "a wrapped data key does not open with key '\(key.label)' of token '\(tokenLabel)'")
        }
    }

    private func gcm(encrypting: Bool, _ input: Data, key: SecretKey, nonce: Data, associatedData: Data) throws(OffChainStoreError) -> Data {
        guard nonce.count == 12 else { throw OffChainStoreError(.badKey, "an AES-GCM nonce is 12 bytes, not \(nonce.count)") }
        guard input.count <= 1 << 20, encrypting || input.count >= 16 else {
            throw OffChainStoreError(.badKey, "a wrapped data key of \(input.count) bytes cannot be opened")
        }
        let operation = encrypting ? "encrypt" : "decrypt"
        var initFailure: CK_RV = CK_RV(CKR_OK)
        let (output, rv): (Data?, CK_RV) = try withFreshHandle(key) { handle throws(OffChainStoreError) in
            try withSession { session in
                var nonceBytes = Array(nonce)
                var aadBytes = Array(associatedData)
                var inputBytes = Array(input)
                var output = [UInt8](repeating: 0, count: input.count + 16)
                var outputLength = CK_ULONG(output.count)
                let (initRV, rv): (CK_RV, CK_RV) = nonceBytes.withUnsafeMutableBufferPointer { nonce in
                    aadBytes.withUnsafeMutableBufferPointer { aad in
                        var parameters = CK_GCM_PARAMS(
                            pIv: nonce.baseAddress, ulIvLen: CK_ULONG(nonce.count), ulIvBits: CK_ULONG(nonce.count * 8),
                            pAAD: aad.baseAddress, ulAADLen: CK_ULONG(aad.count), ulTagBits: 128)
                        return withUnsafeMutableBytes(of: &parameters) { parameters in
                            var mechanism = CK_MECHANISM(
                                mechanism: CK_MECHANISM_TYPE(CKM_AES_GCM), pParameter: parameters.baseAddress,
                                ulParameterLen: CK_ULONG(parameters.count))
                            let functions = module.functions.pointee
                            let initRV = encrypting ? functions.C_EncryptInit(session, &mechanism, handle) : functions.C_DecryptInit(session, &mechanism, handle)
                            guard initRV == CKR_OK else { return (initRV, CK_RV(CKR_OK)) }
                            let rv = inputBytes.withUnsafeMutableBufferPointer { input in
                                output.withUnsafeMutableBufferPointer { output in
                                    encrypting
                                        ? functions.C_Encrypt(session, input.baseAddress, CK_ULONG(input.count), output.baseAddress, &outputLength)
                                        : functions.C_Decrypt(session, input.baseAddress, CK_ULONG(input.count), output.baseAddress, &outputLength)
                                }
                            }
                            return (initRV, rv)
                        }
                    }
                }
                initFailure = initRV
                guard initRV == CKR_OK else { return (nil, initRV) }
                guard rv == CKR_OK else { return (nil, rv) }
                return (Data(output.prefix(Int(min(outputLength, CK_ULONG(output.count))))), rv)
            }
        }
        guard rv == CKR_OK, let output else {
            if initFailure == CKR_OK, !encrypting, rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE {
                throw OffChainStoreError(.wrongKey, "a wrapped data key does not open with key '\(key.label)' of token '\(tokenLabel)'")
            }
            throw module.failure("\(operation) with key '\(key.label)' on token '\(tokenLabel)'", rv)
        }
        return output
    }

    /// nil when the handle went stale.
    private func label(of handle: CK_OBJECT_HANDLE, session: CK_SESSION_HANDLE) throws(OffChainStoreError) -> String? {
        var attribute = CK_ATTRIBUTE(type: CK_ATTRIBUTE_TYPE(CKA_LABEL), pValue: nil, ulValueLen: 0)
        var rv = module.functions.pointee.C_GetAttributeValue(session, handle, &attribute, 1)
        if Self.isStale(rv) { return nil }
        guard rv == CKR_OK else { throw module.failure("read a key label on token '\(tokenLabel)'", rv) }
        guard attribute.ulValueLen > 0, attribute.ulValueLen <= 4096 else { return "" }
        var bytes = [UInt8](repeating: 0, count: Int(attribute.ulValueLen))
        rv = bytes.withUnsafeMutableBytes { buffer in
            attribute.pValue = buffer.baseAddress
            return module.functions.pointee.C_GetAttributeValue(session, handle, &attribute, 1)
        }
        if Self.isStale(rv) { return nil }
        guard rv == CKR_OK else { throw module.failure("read a key label on token '\(tokenLabel)'", rv) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether a call failed because an object handle is no longer valid (the object was
    /// destroyed, or the token re-indexed its objects and gave them new handles).
    private static func isStale(_ rv: CK_RV) -> Bool {
        rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID
    }

    /// The key's handle as last seen (a search may have found a newer one than `key`'s).
    private func handle(of key: SecretKey) -> CK_OBJECT_HANDLE { handles.withLock { $0[key.label] } ?? key.handle }

    /// Runs `body` with the key's handle; when it answers that the handle went stale, finds the key
    /// by its label again and runs `body` once more.
    private func withFreshHandle<Result>(
        _ key: SecretKey, _ body: (CK_OBJECT_HANDLE) throws(OffChainStoreError) -> (Result?, CK_RV)
    ) throws(OffChainStoreError) -> (Result?, CK_RV) {
        let first = try body(handle(of: key))
        guard Self.isStale(first.1) else { return first }
        guard let found = try secretKeys().first(where: { $0.label == key.label }) else {
            throw OffChainStoreError(.keyUnavailable, "key '\(key.label)' is no longer on token '\(tokenLabel)'")
        }
        return try body(found.handle)
    }

    /// Runs `body` with a session of this token to itself, opening one when none is idle.
    private func withSession<Result>(_ body: (CK_SESSION_HANDLE) throws(OffChainStoreError) -> Result) throws(OffChainStoreError) -> Result {
        let session: CK_SESSION_HANDLE
        if let idle = idleSessions.withLock({ $0.popLast() }) {
            session = idle
        } else {
            session = try module.openSession(slot, token: tokenLabel)
        }
        // A failed C_Encrypt/C_Decrypt ends its operation, and a failed C_*Init starts none: the
        // session is reusable either way.
        defer { release(session) }
        return try body(session)
    }

    private func release(_ session: CK_SESSION_HANDLE) {
        let kept = idleSessions.withLock { sessions in
            guard sessions.count < Self.idleSessionsMax else { return false }
            sessions.append(session)
            return true
        }
        if !kept { _ = module.functions.pointee.C_CloseSession(session) }
    }
}

/// A PKCS#11 module loaded into this process: dlopen'ed and `C_Initialize`d once (PKCS#11 allows
/// one initialization per process), kept for the life of the process.
final class PKCS11Module: Sendable {
    let library: String
    nonisolated(unsafe) let functions: UnsafeMutablePointer<CK_FUNCTION_LIST>

    private static let loadedModules = Mutex<[String: PKCS11Module]>([:])
    /// SHA-256 of the PIN each token was logged into with, by token label.
    private let pinDigests = Mutex<[String: Data]>([:])

    /// C_Login as the user; returns its result and, when the token was logged into already,
    /// whether it was with this PIN.
    func login(session: CK_SESSION_HANDLE, token: String, pin: String, pinDigest: Data) -> (CK_RV, samePIN: Bool) {
        pinDigests.withLock { digests in
            var pinBytes = Array(pin.utf8)
            let rv = pinBytes.withUnsafeMutableBufferPointer {
                functions.pointee.C_Login(session, CK_USER_TYPE(CKU_USER), $0.baseAddress, CK_ULONG($0.count))
            }
            if rv == CKR_OK { digests[token] = pinDigest }
            return (rv, digests[token] == pinDigest)
        }
    }

    private init(library: String, functions: UnsafeMutablePointer<CK_FUNCTION_LIST>) {
        self.library = library
        self.functions = functions
    }

    static func loaded(_ library: String) throws(OffChainStoreError) -> PKCS11Module {
        let result: Result<PKCS11Module, OffChainStoreError> = loadedModules.withLock { modules in
            if let module = modules[library] { return .success(module) }
            // A module that talks to its HSM over a socket (p11-kit's client, network HSMs) must
            // not end the process with SIGPIPE when the HSM goes away: the call fails instead.
            signal(SIGPIPE, SIG_IGN)
            guard let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL) else {
                return .failure(OffChainStoreError(.keyUnavailable, "cannot load the PKCS#11 library \(library)"))
            }
            guard let symbol = dlsym(handle, "C_GetFunctionList") else {
                return .failure(OffChainStoreError(.keyUnavailable, "\(library) is not a PKCS#11 library (no C_GetFunctionList)"))
            }
            let getFunctionList = unsafeBitCast(symbol, to: CK_C_GetFunctionList.self)
            var list: UnsafeMutablePointer<CK_FUNCTION_LIST>?
            guard getFunctionList(&list) == CKR_OK, let list else {
                return .failure(OffChainStoreError(.keyUnavailable, "the PKCS#11 library \(library) gave no function list"))
            }
            var arguments = CK_C_INITIALIZE_ARGS(
                CreateMutex: nil, DestroyMutex: nil, LockMutex: nil, UnlockMutex: nil, flags: CK_FLAGS(CKF_OS_LOCKING_OK), pReserved: nil)
            let rv = list.pointee.C_Initialize(&arguments)
            guard rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED else {
                return .failure(OffChainStoreError(.keyUnavailable, "the PKCS#11 library \(library) failed to initialize (\(PKCS11Module.name(rv)))"))
            }
            let module = PKCS11Module(library: library, functions: list)
            modules[library] = module
            return .success(module)
        }
        return try result.get()
    }

    /// The slot holding the token labelled `label` (PKCS#11 labels are 32 bytes, space-padded).
    func slot(labelled label: String) throws(OffChainStoreError) -> CK_SLOT_ID {
        var count: CK_ULONG = 0
        var rv = functions.pointee.C_GetSlotList(CK_BBOOL(CK_TRUE), nil, &count)
        guard rv == CKR_OK else { throw failure("list the tokens", rv) }
        var slots = [CK_SLOT_ID](repeating: 0, count: Int(min(count, 4096)))
        count = CK_ULONG(slots.count)
        rv = functions.pointee.C_GetSlotList(CK_BBOOL(CK_TRUE), &slots, &count)
        guard rv == CKR_OK else { throw failure("list the tokens", rv) }
        for slot in slots.prefix(Int(min(count, CK_ULONG(slots.count)))) {
            var info = CK_TOKEN_INFO()
            guard functions.pointee.C_GetTokenInfo(slot, &info) == CKR_OK else { continue }
            let tokenLabel = withUnsafeBytes(of: info.label) { String(decoding: $0, as: UTF8.self) }
            if tokenLabel.trimmingCharacters(in: .whitespaces) == label { return slot }
        }
        throw OffChainStoreError(.keyUnavailable, "no PKCS#11 token labelled '\(label)' is present in \(library)")
    }

    func openSession(_ slot: CK_SLOT_ID, token: String) throws(OffChainStoreError) -> CK_SESSION_HANDLE {
        var session = CK_SESSION_HANDLE(CK_INVALID_HANDLE)
        let rv = functions.pointee.C_OpenSession(slot, CK_FLAGS(CKF_SERIAL_SESSION | CKF_RW_SESSION), nil, nil, &session)
        guard rv == CKR_OK else { throw failure("open a session with token '\(token)'", rv) }
        return session
    }

    /// `.keyUnavailable` for a failed call, naming the PKCS#11 return code.
    func failure(_ action: String, _ rv: CK_RV) -> OffChainStoreError {
        OffChainStoreError(.keyUnavailable, "PKCS#11 (\(library)) could not \(action): \(Self.name(rv))")
    }

    static func name(_ rv: CK_RV) -> String {
        let names: [CK_RV: String] = [
            CK_RV(CKR_DEVICE_ERROR): "CKR_DEVICE_ERROR", CK_RV(CKR_DEVICE_REMOVED): "CKR_DEVICE_REMOVED",
            CK_RV(CKR_TOKEN_NOT_PRESENT): "CKR_TOKEN_NOT_PRESENT", CK_RV(CKR_USER_NOT_LOGGED_IN): "CKR_USER_NOT_LOGGED_IN",
            CK_RV(CKR_PIN_INCORRECT): "CKR_PIN_INCORRECT", CK_RV(CKR_PIN_LOCKED): "CKR_PIN_LOCKED",
            CK_RV(CKR_MECHANISM_INVALID): "CKR_MECHANISM_INVALID", CK_RV(CKR_KEY_HANDLE_INVALID): "CKR_KEY_HANDLE_INVALID",
            CK_RV(CKR_OBJECT_HANDLE_INVALID): "CKR_OBJECT_HANDLE_INVALID", CK_RV(CKR_SESSION_HANDLE_INVALID): "CKR_SESSION_HANDLE_INVALID",
            CK_RV(CKR_ENCRYPTED_DATA_INVALID): "CKR_ENCRYPTED_DATA_INVALID", CK_RV(CKR_GENERAL_ERROR): "CKR_GENERAL_ERROR",
            CK_RV(CKR_FUNCTION_FAILED): "CKR_FUNCTION_FAILED", CK_RV(CKR_ARGUMENTS_BAD): "CKR_ARGUMENTS_BAD",
        ]
        return names[rv] ?? "CKR 0x\(String(rv, radix: 16))"
    }
}
