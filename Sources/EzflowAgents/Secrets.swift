// Secret resolution for tasks: providers `env` (the variable named by the key), `file`
// (the file at the key's path, one trailing newline trimmed) and `vault` (HashiCorp
// Vault's KV v2 HTTP API). A secret is resolved only for a task whose IR grants it:
// the task lists it in `secrets` AND its role's effective `permissions.secrets` holds it.
// Every resolved value is registered with the run's `Redactor` before it is returned.
import EzflowIR
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Glibc
import Synchronization

/// Where a secret's value comes from.
public enum SecretProvider: String, Sendable, Equatable {
    case env, file, vault
}

/// A declared secret (IR `secrets[i]`): a name and where to find it, never a value.
public struct SecretSpec: Sendable, Equatable {
    public var name: String
    public var provider: SecretProvider
    /// env: variable name; file: path; vault: `mount/path#field` (see `VaultKey`).
    public var key: String

    public init(name: String, provider: SecretProvider, key: String) {
        self.name = name
        self.provider = provider
        self.key = key
    }

    /// The IR workflow's `secrets` list.
    public static func fromIR(_ workflow: JSONValue) -> [SecretSpec] {
        guard case .array(let items)? = workflow["secrets"] else { return [] }
        return items.compactMap { s in
            guard case .string(let n)? = s["name"], case .string(let p)? = s["provider"], let prov = SecretProvider(rawValue: p),
                  case .string(let k)? = s["key"] else { return nil }
            return SecretSpec(name: n, provider: prov, key: k)
        }
    }
}

/// A secret that could not be given to a task. Messages carry names, never values.
public struct SecretError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// The task's role does not grant it, or the task does not declare it.
        case notGranted = "not_granted"
        /// No such declared secret.
        case undeclared
        /// The provider has no value (unset variable, missing file, 404, missing field).
        case notFound = "not_found"
        /// The provider refused (permission denied, HTTP 403).
        case forbidden
        /// The provider could not be reached or failed (network, timeout, HTTP 5xx): may pass on retry.
        case unavailable
        /// Bad configuration (malformed key, no VAULT_ADDR/VAULT_TOKEN).
        case invalid
    }

    public var kind: Kind
    public var name: String
    public var message: String

    public init(_ kind: Kind, _ name: String, _ message: String) {
        self.kind = kind
        self.name = name
        self.message = message
    }

    public var description: String { "secret `\(name)`: \(message)" }

    /// The error class a task attempt fails with: `transient` for `unavailable`
    /// (worth a retry), `secret_error` otherwise.
    public var errorClass: String { kind == .unavailable ? ErrorClass.transient : ErrorClass.secretError }
}

/// `mount/path#field`: KV v2 secret `path` under mount `mount`, its data field `field`.
/// Read as `GET {VAULT_ADDR}/v1/{mount}/data/{path}`. A key already written in API form
/// (`secret/data/app/db#password`, as Vault policies spell it) is taken as is.
public struct VaultKey: Sendable, Equatable {
    public var mount: String
    public var path: String
    public var field: String

    public init?(_ key: String) {
        guard let hash = key.lastIndex(of: "#") else { return nil }
        let field = String(key[key.index(after: hash)...])
        let full = key[..<hash].split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !field.isEmpty, full.count >= 2 else { return nil }
        var rest = Array(full.dropFirst())
        if rest.first == "data" && rest.count >= 2 { rest.removeFirst() }
        self.mount = full[0]
        self.path = rest.joined(separator: "/")
        self.field = field
    }

    /// The URL path after the address.
    public var apiPath: String {
        let enc: (String) -> String = { $0.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? $0 }
        return "/v1/\(enc(mount))/data/\(enc(path))"
    }
}

/// How providers reach their values.
public struct SecretConfig: Sendable {
    /// The environment the `env` provider reads and where `VAULT_ADDR`/`VAULT_TOKEN`
    /// come from unless set below (default: this process's environment).
    public var environment: [String: String]
    /// Vault address (`http://127.0.0.1:8200`); default `environment["VAULT_ADDR"]`.
    public var vaultAddress: String?
    /// Vault token; default `environment["VAULT_TOKEN"]`. Registered with the redactor.
    public var vaultToken: String?
    /// Per-request timeout for Vault, seconds.
    public var vaultTimeout: Double
    /// Refuse secret files other users can read (otherwise only warn).
    public var refuseWorldReadableFiles: Bool

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, vaultAddress: String? = nil,
                vaultToken: String? = nil, vaultTimeout: Double = 5, refuseWorldReadableFiles: Bool = false) {
        self.environment = environment
        self.vaultAddress = vaultAddress
        self.vaultToken = vaultToken
        self.vaultTimeout = vaultTimeout
        self.refuseWorldReadableFiles = refuseWorldReadableFiles
    }
}

/// Which secrets a task may receive, from its IR object: the task's own `secrets`
/// intersected with its role's `permissions.secrets` (no role: none).
public func grantedSecrets(task: JSONValue) -> [String] {
    guard case .array(let declared)? = task["secrets"], case .object? = task["permissions"],
          case .array(let allowed)? = task["permissions"]?["secrets"] else { return [] }
    let allow = Set(allowed.compactMap { if case .string(let s) = $0 { s } else { nil } })
    return declared.compactMap { if case .string(let s) = $0, allow.contains(s) { s } else { nil } }
}

/// Resolves declared secrets (cached per name for the resolver's lifetime, i.e. a run)
/// and registers every value with `redactor`. Safe to share between concurrent tasks.
public final class SecretResolver: Sendable {
    public let specs: [String: SecretSpec]
    public let config: SecretConfig
    public let redactor: Redactor
    private let cache = Mutex<[String: String]>([:])
    private let warningList = Mutex<[String]>([])

    public init(specs: [SecretSpec], config: SecretConfig = SecretConfig(), redactor: Redactor) {
        var m: [String: SecretSpec] = [:]
        for s in specs { m[s.name] = s }
        self.specs = m
        self.config = config
        self.redactor = redactor
        if let t = config.vaultToken ?? config.environment["VAULT_TOKEN"] { redactor.add(name: "vault_token", value: t) }
    }

    /// Warnings raised while resolving (e.g. a world-readable secret file).
    public var warnings: [String] { warningList.withLock { $0 } }

    /// The values of the secrets granted to `task` (IR task object), by name.
    public func resolve(for task: JSONValue) async throws(SecretError) -> [String: String] {
        var out: [String: String] = [:]
        for name in grantedSecrets(task: task) { out[name] = try await resolve(name) }
        return out
    }

    /// Resolves `names` for a task allowed exactly `granted`; any other name is refused.
    public func resolve(_ names: [String], granted: Set<String>) async throws(SecretError) -> [String: String] {
        var out: [String: String] = [:]
        for name in names {
            guard granted.contains(name) else { throw SecretError(.notGranted, name, "not granted to this task") }
            out[name] = try await resolve(name)
        }
        return out
    }

    /// Resolves one declared secret by name (no grant check: callers check grants).
    public func resolve(_ name: String) async throws(SecretError) -> String {
        if let v = cache.withLock({ $0[name] }) { return v }
        guard let spec = specs[name] else { throw SecretError(.undeclared, name, "no such secret is declared") }
        let value: String
        switch spec.provider {
        case .env: value = try fromEnv(spec)
        case .file: value = try fromFile(spec)
        case .vault: value = try await fromVault(spec)
        }
        redactor.add(name: name, value: value)
        cache.withLock { $0[name] = value }
        return value
    }

    func fromEnv(_ s: SecretSpec) throws(SecretError) -> String {
        guard let v = config.environment[s.key] else {
            throw SecretError(.notFound, s.name, "environment variable \(s.key) is not set")
        }
        return v
    }

    func fromFile(_ s: SecretSpec) throws(SecretError) -> String {
        var st = stat()
        guard stat(s.key, &st) == 0 else {
            let e = errno
            throw SecretError(e == EACCES ? .forbidden : .notFound, s.name, "cannot read \(s.key): \(String(cString: strerror(e)))")
        }
        if st.st_mode & S_IROTH != 0 {
            if config.refuseWorldReadableFiles {
                throw SecretError(.forbidden, s.name, "\(s.key) is readable by every user (chmod o-r)")
            }
            warningList.withLock { $0.append("secret `\(s.name)`: \(s.key) is readable by every user (chmod o-r)") }
        }
        guard let d = FileManager.default.contents(atPath: s.key) else {
            throw SecretError(.forbidden, s.name, "cannot read \(s.key)")
        }
        var text = String(decoding: d, as: UTF8.self)
        if text.hasSuffix("\r\n") { text.removeLast(1) } else if text.hasSuffix("\n") { text.removeLast() }
        if text.last == "\r" { text.removeLast() }
        return text
    }

    func fromVault(_ s: SecretSpec) async throws(SecretError) -> String {
        guard let key = VaultKey(s.key) else {
            throw SecretError(.invalid, s.name, "vault key `\(s.key)` is not `mount/path#field`")
        }
        guard let addr = config.vaultAddress ?? config.environment["VAULT_ADDR"], !addr.isEmpty else {
            throw SecretError(.invalid, s.name, "VAULT_ADDR is not set")
        }
        guard let token = config.vaultToken ?? config.environment["VAULT_TOKEN"] else {
            throw SecretError(.invalid, s.name, "VAULT_TOKEN is not set")
        }
        let base = addr.hasSuffix("/") ? String(addr.dropLast()) : addr
        guard let url = URL(string: base + key.apiPath) else {
            throw SecretError(.invalid, s.name, "bad vault URL for `\(s.key)`")
        }
        var req = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: config.vaultTimeout)
        req.httpMethod = "GET"
        req.setValue(token, forHTTPHeaderField: "X-Vault-Token")
        let cfg = URLSessionConfiguration.ephemeral
        cfg.timeoutIntervalForRequest = config.vaultTimeout
        cfg.timeoutIntervalForResource = config.vaultTimeout * 2
        let session = URLSession(configuration: cfg)
        defer { session.finishTasksAndInvalidate() }
        let data: Data, response: URLResponse
        do {
            (data, response) = try await session.data(for: req)
        } catch {
            throw SecretError(.unavailable, s.name, "vault request failed: \(redactor.redact(error.localizedDescription))")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        switch status {
        case 200: break
        case 404: throw SecretError(.notFound, s.name, "vault has no secret at \(key.mount)/\(key.path) (HTTP 404)")
        case 401, 403: throw SecretError(.forbidden, s.name, "vault refused the token for \(key.mount)/\(key.path) (HTTP \(status))")
        case 500...599, 429: throw SecretError(.unavailable, s.name, "vault answered HTTP \(status)")
        default: throw SecretError(.invalid, s.name, "vault answered HTTP \(status)")
        }
        let body: JSONValue
        do { body = try JSONParser.parse([UInt8](data)) } catch {
            throw SecretError(.invalid, s.name, "vault response is not JSON")
        }
        guard let fields = body["data"]?["data"], case .object = fields else {
            throw SecretError(.invalid, s.name, "vault response has no data.data (is \(key.mount) a KV v2 mount?)")
        }
        guard let v = fields[key.field] else {
            throw SecretError(.notFound, s.name, "vault secret \(key.mount)/\(key.path) has no field `\(key.field)`")
        }
        switch v {
        case .string(let str): return str
        case .null: throw SecretError(.notFound, s.name, "vault field `\(key.field)` is null")
        default: return TemplateRenderer.text(v)
        }
    }
}
