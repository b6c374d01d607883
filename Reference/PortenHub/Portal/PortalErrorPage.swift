import Hummingbird
import OpenAIWire

/// How the portal shows an error to a browser (one that accepts `text/html`): a page with the
/// same status and message, inside the layout of whoever is signed in. Scripts (the playground's
/// fetch) get the error thrown on, to `OpenAIErrorMiddleware`'s JSON.
enum PortalErrorPage {
    struct Model {
        var heading: String
        var message: String
        var back: String
        var backLabel: String
    }

    static func response(for error: any Error, request: Request, context: HubRequestContext, pages: PortalPages) throws -> Response {
        guard request.headers[.accept]?.contains("text/html") == true else { throw error }
        let (status, message): (HTTPResponse.Status, String)
        switch error {
        case let error as PageError: (status, message) = (error.status, error.message)
        case let error as APIError: (status, message) = (HTTPResponse.Status(code: error.status), error.message)
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
