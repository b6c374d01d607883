import Foundation
import Hummingbird
import OpenAIWire

/// `/install.sh` and `/download/porten-<os>-<arch>`: a self-hosted Hub is where its nodes come
/// from. The script downloads this Hub's own `porten` binary (the platform the Hub runs on),
/// picks an engine, runs `porten login` and `porten service install`.
struct InstallController: Sendable {
    let services: HubServices

    func addRoutes(to router: Router<HubRequestContext>) {
        router.get("/install.sh", use: script)
        router.head("/install.sh", use: script)
        router.get("/download/:file", use: download)
    }

    /// `linux-x86_64`, `darwin-aarch64`, …: what `uname -s` and `uname -m` say on this Hub's machine.
    static var platform: String {
        #if os(Linux)
        let os = "linux"
        #else
        let os = "darwin"
        #endif
        #if arch(x86_64)
        let arch = "x86_64"
        #else
        let arch = "aarch64"
        #endif
        return os + "-" + arch
    }

    func script(_ request: Request, context: HubRequestContext) async throws -> Response {
        let hub = PortalLinks.base(request, services.configuration)
        var headers = HTTPFields()
        headers[.contentType] = "text/x-shellscript; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        return Response(
            status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: InstallScript.text(hub: hub, platform: Self.platform))))
    }

    func download(_ request: Request, context: HubRequestContext) async throws -> Response {
        let file = try context.parameters.require("file")
        guard file == "porten-" + Self.platform else {
            throw APIError(
                status: 404, message: "This Hub offers the agent for \(Self.platform) only (porten-\(Self.platform)).",
                type: "invalid_request_error", code: "not_found")
        }
        // Opened once here (through the symbolic link, so an upgraded binary still serves whole).
        guard let handle = FileHandle(forReadingAtPath: Self.executablePath), let size = try? handle.seekToEnd(), (try? handle.seek(toOffset: 0)) != nil
        else { throw APIError.internalError("The Hub cannot read its own binary.") }
        var headers = HTTPFields()
        headers[.contentType] = "application/octet-stream"
        headers[.contentDisposition] = "attachment; filename=\"porten\""
        headers[.contentLength] = String(size)
        let body = ResponseBody { writer in
            defer { try? handle.close() }
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                try await writer.write(ByteBuffer(bytes: chunk))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    /// The running executable: on Linux `/proc/self/exe` itself, which still opens after the
    /// file was replaced by an upgrade.
    static var executablePath: String {
        #if os(Linux)
        "/proc/self/exe"
        #else
        Bundle.main.executablePath ?? CommandLine.arguments[0]
        #endif
    }
}
