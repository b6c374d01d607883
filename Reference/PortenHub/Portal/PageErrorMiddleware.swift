import Hummingbird
import OpenAIWire

/// Portal routes: an error reaching a browser (one that accepts `text/html`) becomes a page with
/// the same status and message; scripts (the playground's fetch) still get OpenAI-shaped JSON
/// from `OpenAIErrorMiddleware`.
struct PageErrorMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext
    let pages: PortalPages

    struct Model {
        var heading: String
        var message: String
        var back: String
        var backLabel: String
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            guard request.headers[.accept]?.contains("text/html") == true else { throw error }
            let (status, message): (HTTPResponse.Status, String)
            switch error {
            case let error as PageError: (status, message) = (error.status, error.message)
            case let error as APIError: (status, message) = (HTTPResponse.Status(code: error.status), error.message)
            case let error as HTTPError where error.status == .notFound: (status, message) = (.notFound, "There is no page at \(request.uri.path).")
            default: throw error
            }
            let signedIn = context.portal != nil
            return pages.page(
                "error", title: status.reasonPhrase,
                model: Model(
                    heading: status.code == 404 ? "Not found" : status.code == 403 ? "Not allowed" : "Something is not right", message: message,
                    back: signedIn ? "/build/playground" : "/signin", backLabel: signedIn ? "Back to the playground" : "Sign in"),
                context: context, status: status)
        }
    }
}
