import Hummingbird
import Logging
import NIOCore
import OpenAIWire

/// Turns every error into an OpenAI error envelope and stamps `X-Request-Id` on every response,
/// errors included. A client mistake is never a 500: only an unexpected error is.
struct OpenAIErrorMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = Self.response(for: error, request: request, context: context)
        }
        response.headers[.requestID] = context.requestID
        return response
    }

    /// The OpenAI-shaped answer to `error`.
    static func response(for error: any Error, request: Request, context: Context) -> Response {
        JSONResponse.make(apiError(for: error, request: request, context: context))
    }

    static func apiError(for error: any Error, request: Request, context: Context) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as PageError:
            return APIError(status: Int(error.status.code), message: error.message, type: "invalid_request_error", code: error.code)
        case is NIOTooManyBytesError:
            return .requestTooLarge(limit: context.maxUploadSize)
        case let error as HTTPError:
            switch error.status {
            case .notFound: return .notFound(path: request.uri.path)
            case .methodNotAllowed: return .methodNotAllowed(method: request.method.rawValue, path: request.uri.path)
            case .contentTooLarge: return .requestTooLarge(limit: context.maxUploadSize)
            default:
                return APIError(
                    status: Int(error.status.code), message: error.body ?? error.status.reasonPhrase,
                    type: error.status.code < 500 ? "invalid_request_error" : "api_error")
            }
        case StoreError.invalidValue:
            return .invalidRequest("The request holds a character the Hub cannot store (such as U+0000).")
        case StoreError.unavailable(let why):
            context.logger.error("store unavailable: \(why)", metadata: ["request_id": .string(context.requestID)])
            return .storeUnavailable()
        default:
            context.logger.error("unexpected error: \(error)", metadata: ["request_id": .string(context.requestID)])
            return .internalError()
        }
    }
}
