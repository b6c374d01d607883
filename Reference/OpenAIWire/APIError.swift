/// An OpenAI-shaped error: an HTTP status plus the `{"error":{"message","type","param","code"}}`
/// body. All four body fields are always present; `param` and `code` may be null.
public struct APIError: Error, Sendable, Equatable, Codable {
    public var status: Int
    public var message: String
    public var type: String
    public var param: String?
    public var code: String?
    /// Seconds for the `Retry-After` header (429 and 503).
    public var retryAfter: Int?

    public init(status: Int, message: String, type: String, param: String? = nil, code: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.retryAfter = retryAfter
    }

    /// The response body, `{"error":{…}}`.
    public var envelope: Envelope { Envelope(error: Body(message: message, type: type, param: param, code: code)) }

    public struct Envelope: Codable, Sendable, Equatable {
        public var error: Body
        public init(error: Body) { self.error = error }
    }

    public struct Body: Codable, Sendable, Equatable {
        public var message: String
        public var type: String
        public var param: String?
        public var code: String?

        public init(message: String, type: String, param: String?, code: String?) {
            self.message = message
            self.type = type
            self.param = param
            self.code = code
        }

        /// Encodes `param` and `code` as explicit nulls: OpenAI's schema requires all four keys.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(message, forKey: .message)
            try container.encode(type, forKey: .type)
            try container.encode(param, forKey: .param)
            try container.encode(code, forKey: .code)
        }
    }
}

// MARK: - The errors of the seed's table

extension APIError {
    /// 400 for a request the client got wrong; `param` names the offending field.
    public static func invalidRequest(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: 400, message: message, type: "invalid_request_error", param: param, code: code)
    }

    public static func invalidAPIKey(_ message: String = "Invalid or revoked API key. Pass it as 'Authorization: Bearer sk-porten-…'.") -> APIError {
        APIError(status: 401, message: message, type: "invalid_request_error", code: "invalid_api_key")
    }

    /// 404; `param` is null, as OpenAI answers it (the message names the model).
    public static func modelNotFound(_ model: String) -> APIError {
        APIError(
            status: 404, message: "The model '\(model)' does not exist or is not offered. List the offered models with GET /v1/models.",
            type: "invalid_request_error", param: nil, code: "model_not_found")
    }

    public static func notFound(path: String) -> APIError {
        APIError(status: 404, message: "Unknown request URL: \(path).", type: "invalid_request_error", code: "unknown_url")
    }

    public static func methodNotAllowed(method: String, path: String) -> APIError {
        APIError(status: 405, message: "Method \(method) is not allowed on \(path).", type: "invalid_request_error", code: "method_not_allowed")
    }

    public static func requestTooLarge(limit: Int) -> APIError {
        APIError(
            status: 413, message: "The request body exceeds the limit of \(limit) bytes.",
            type: "invalid_request_error", code: "request_too_large")
    }

    /// 403: the key's policy does not allow this model.
    public static func modelNotAllowed(_ model: String) -> APIError {
        APIError(
            status: 403, message: "This API key may not use the model '\(model)' (it is not on the key's model allow-list).",
            type: "permission_error", param: "model", code: "model_not_allowed")
    }

    /// 429 with the seconds to wait.
    public static func rateLimitExceeded(_ message: String, retryAfter: Int) -> APIError {
        APIError(status: 429, message: message, type: "rate_limit_error", code: "rate_limit_exceeded", retryAfter: retryAfter)
    }

    public static func noAvailableNode(_ message: String, retryAfter: Int = 5) -> APIError {
        APIError(status: 503, message: message, type: "service_unavailable", code: "no_available_node", retryAfter: retryAfter)
    }

    /// 503 while the model loads past the request's warm-up budget; retry after `retryAfter` seconds.
    public static func modelWarming(_ model: String, retryAfter: Int) -> APIError {
        APIError(
            status: 503, message: "'\(model)' is still loading on a node; retry in about \(retryAfter) s.", type: "service_unavailable",
            code: "model_warming", retryAfter: retryAfter)
    }

    public static func nodeError(_ message: String) -> APIError {
        APIError(status: 502, message: message, type: "api_error", code: "node_error")
    }

    public static func gatewayTimeout(_ message: String) -> APIError {
        APIError(status: 504, message: message, type: "api_error", code: "gateway_timeout")
    }

    public static func internalError(_ message: String = "The server had an error while processing your request.") -> APIError {
        APIError(status: 500, message: message, type: "api_error", code: "internal_error")
    }

    public static func unauthorized(_ message: String) -> APIError {
        APIError(status: 401, message: message, type: "invalid_request_error", code: "unauthorized")
    }
}
