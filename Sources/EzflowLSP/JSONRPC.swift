import EzflowIR

/// A request's id: JSON-RPC allows a number or a string, and the response carries it back
/// as it came.
public enum RequestID: Sendable, Hashable {
    case int(Int64)
    case string(String)

    init?(_ v: JSONValue?) {
        switch v {
        case .int(let i): self = .int(i)
        case .string(let s): self = .string(s)
        default: return nil
        }
    }

    var json: JSONValue {
        switch self {
        case .int(let i): .int(i)
        case .string(let s): .string(s)
        }
    }
}

/// A JSON-RPC error: the code a client acts on and a message a person reads.
public struct RPCError: Error, Sendable, Equatable {
    public var code: Int
    public var message: String

    public init(_ code: Int, _ message: String) {
        self.code = code
        self.message = message
    }

    public static let parseError = -32700
    public static let invalidRequest = -32600
    public static let methodNotFound = -32601
    public static let invalidParams = -32602
    /// LSP: a request before `initialize` answered.
    public static let serverNotInitialized = -32002
    /// LSP: the client cancelled the request before it was answered.
    public static let requestCancelled = -32800
    /// The request was valid, the server could not carry it out (LSP 3.17).
    public static let requestFailed = -32803

    static func invalidParams(_ message: String) -> RPCError { RPCError(Self.invalidParams, message) }
}

/// One message from the client.
public enum Incoming: Sendable, Equatable {
    case request(id: RequestID, method: String, params: JSONValue?)
    case notification(method: String, params: JSONValue?)
    /// A reply to a request of ours; the server sends none yet, so these are dropped.
    case response(id: RequestID?)

    /// Reads one body. A failure carries the request's id when one could be read, so the
    /// error response goes to the request that caused it.
    public static func decode(_ body: [UInt8]) -> Result<Incoming, DecodeFailure> {
        let value: JSONValue
        do { value = try JSONParser.parse(body, wideNumbers: true) } catch {
            return .failure(DecodeFailure(id: nil, error: RPCError(RPCError.parseError, "the message is not JSON: \(error.description)")))
        }
        guard case .object = value else {
            // LSP sends no batches; an array is as wrong as a number here.
            return .failure(DecodeFailure(id: nil, error: RPCError(RPCError.invalidRequest, "a message must be a JSON object, not \("aeiou".contains(value.typeName.prefix(1)) ? "an" : "a") \(value.typeName)")))
        }
        let rawID = value["id"]
        let id = RequestID(rawID)
        func invalid(_ m: String) -> Result<Incoming, DecodeFailure> {
            .failure(DecodeFailure(id: id, error: RPCError(RPCError.invalidRequest, m)))
        }
        guard value["jsonrpc"] == .string("2.0") else { return invalid("`jsonrpc` must be \"2.0\"") }
        if rawID != nil, id == nil, value["method"] != nil { return invalid("`id` must be a number or a string") }
        // `"params": null` is read as no params: some clients send it with `exit` and `shutdown`.
        let params = value["params"] == .null ? nil : value["params"]
        if let p = params {
            switch p {
            case .object, .array: break
            default: return invalid("`params` must be an object or an array")
            }
        }
        switch value["method"] {
        case .string(let method):
            if let id { return .success(.request(id: id, method: method, params: params)) }
            return .success(.notification(method: method, params: params))
        case nil where value["result"] != nil || value["error"] != nil:
            return .success(.response(id: id))
        default:
            return invalid("`method` must be a string")
        }
    }
}

/// A message that could not be read, and what to answer.
public struct DecodeFailure: Error, Sendable, Equatable {
    public var id: RequestID?
    public var error: RPCError
}

/// The messages the server writes.
enum Outgoing {
    static func response(_ id: RequestID, _ result: JSONValue) -> JSONValue {
        .object([("jsonrpc", .string("2.0")), ("id", id.json), ("result", result)])
    }

    /// An error response; `id` is null when the request's id could not be read.
    static func error(_ id: RequestID?, _ error: RPCError) -> JSONValue {
        .object([("jsonrpc", .string("2.0")), ("id", id?.json ?? .null),
                 ("error", .object([("code", .int(Int64(error.code))), ("message", .string(error.message))]))])
    }

    static func notification(_ method: String, _ params: JSONValue) -> JSONValue {
        .object([("jsonrpc", .string("2.0")), ("method", .string(method)), ("params", params)])
    }
}

/// Reading params: each accessor names what was missing, for a -32602 a person can act on.
extension JSONValue {
    var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    var intValue: Int? { if case .int(let i) = self { return Int(exactly: i) } else { return nil } }
    var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }

    func string(_ key: String, in what: String) throws(RPCError) -> String {
        guard let s = self[key]?.stringValue else { throw .invalidParams("`\(what).\(key)` must be a string") }
        return s
    }

    func int(_ key: String, in what: String) throws(RPCError) -> Int {
        guard let i = self[key]?.intValue else { throw .invalidParams("`\(what).\(key)` must be an integer") }
        return i
    }

    func object(_ key: String, in what: String) throws(RPCError) -> JSONValue {
        guard let v = self[key], case .object = v else { throw .invalidParams("`\(what).\(key)` must be an object") }
        return v
    }
}
