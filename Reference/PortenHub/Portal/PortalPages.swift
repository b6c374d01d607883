import Foundation
import Hummingbird
import Mustache

/// Renders the portal's server-side pages: each page's template with its model, inside the
/// layout, as a response with the portal's security headers. Templates are compiled into the
/// binary (`PortalTemplates`); `{{…}}` escapes HTML, and no template uses `{{{…}}}` except the
/// layout's slot for the already-rendered page.
struct PortalPages: Sendable {
    let library: MustacheLibrary

    init() {
        var library = MustacheLibrary()
        for (name, text) in PortalTemplates.all {
            do {
                try library.register(text, named: name)
            } catch {
                fatalError("portal template '\(name)' does not parse: \(error)")
            }
        }
        self.library = library
    }

    /// Where the layout's navigation points, and which entry is the current page.
    enum Section: String, Sendable {
        case keys, playground, usage, earn, adminFleet, adminCatalog, adminNodes, adminAccounts, none
    }

    /// A page: `template` rendered with `model`, inside the layout.
    func page(
        _ template: String, title: String, model: Any, context: HubRequestContext, section: Section = .none, scripts: [String] = [],
        status: HTTPResponse.Status = .ok
    ) -> Response {
        let body = library.render(model, withTemplate: template) ?? ""
        let layout = Layout(
            title: title, body: body, csrf: context.csrfToken, scripts: scripts.map { Layout.Script(src: "/static/\($0)") },
            user: context.portal.map { Layout.UserModel(name: $0.user.displayName, email: $0.user.email, account: $0.account.name) },
            nav: context.portal.map { Self.navigation($0.user.isOperator, current: section) } ?? [])
        return Self.html(library.render(layout, withTemplate: "layout") ?? body, status: status)
    }

    static func navigation(_ isOperator: Bool, current: Section) -> [Layout.NavItem] {
        var items: [(String, String, Section)] = [
            ("Playground", "/build/playground", .playground), ("API keys", "/build/keys", .keys), ("Usage", "/build/usage", .usage),
            ("Earn", "/earn", .earn),
        ]
        if isOperator {
            items += [
                ("Fleet", "/admin", .adminFleet), ("Catalog", "/admin/catalog", .adminCatalog), ("Nodes", "/admin/nodes", .adminNodes),
                ("Accounts", "/admin/accounts", .adminAccounts),
            ]
        }
        return items.map { Layout.NavItem(title: $0.0, href: $0.1, current: $0.2 == current) }
    }

    struct Layout {
        var title: String
        var body: String
        var csrf: String
        var scripts: [Script]
        var user: UserModel?
        var nav: [NavItem]

        struct Script { var src: String }
        struct UserModel {
            var name: String
            var email: String
            var account: String
        }
        struct NavItem {
            var title: String
            var href: String
            var current: Bool
        }
    }

    /// The portal's Content-Security-Policy: nothing but this origin's own files; no inline
    /// script or style, no framing, forms post only here.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static var securityHeaders: HTTPFields {
        var headers = HTTPFields()
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[.init("Referrer-Policy")!] = "same-origin"
        headers[.init("X-Frame-Options")!] = "DENY"
        return headers
    }
}
