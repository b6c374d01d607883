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
        let path = Self.executablePath
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path), let size = attributes[.size] as? Int else {
            throw APIError.internalError("The Hub cannot read its own binary.")
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/octet-stream"
        headers[.contentDisposition] = "attachment; filename=\"porten\""
        headers[.contentLength] = String(size)
        let body = ResponseBody { writer in
            guard let handle = FileHandle(forReadingAtPath: path) else { throw APIError.internalError("The Hub cannot read its own binary.") }
            defer { try? handle.close() }
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                try await writer.write(ByteBuffer(bytes: chunk))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    /// The running executable (`/proc/self/exe` on Linux).
    static var executablePath: String {
        #if os(Linux)
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        #else
        Bundle.main.executablePath ?? CommandLine.arguments[0]
        #endif
    }
}
