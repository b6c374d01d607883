/// The node installer `/install.sh` serves, with the Hub's URL and platform filled in.
/// POSIX sh, shellcheck-clean, safe to run again (an agent already logged in to this Hub is not
/// asked to log in again).
enum InstallScript {
    static func text(hub: String, platform: String) -> String {
        template.replacingOccurrences(of: "@HUB@", with: shellQuoted(hub)).replacingOccurrences(of: "@PLATFORM@", with: platform)
    }

    /// `'…'` with every `'` closed, escaped and reopened.
    static func shellQuoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    static let template = #"""
        #!/bin/sh
        # Installs the Porten node agent from this Hub, approves the machine in your browser
        # (porten login) and runs it as a service (porten service install).
        #   curl -fsSL <hub>/install.sh | sh
        # Settings it honours: PORTEN_INSTALL_DIR (default ~/.local/bin), PORTEN_ENGINE (default:
        # ollama when one answers on 127.0.0.1:11434, else builtin), PORTEN_ENGINE_MODELS,
        # PORTEN_VRAM_BUDGET_MB, PORTEN_AUTO_DOWNLOAD_MB: they are baked into the service.
        set -eu

        hub=@HUB@
        offered=@PLATFORM@

        say() { printf 'porten: %s\n' "$*" >&2; }
        fail() { say "$*"; exit 1; }

        command -v curl >/dev/null 2>&1 || fail "curl is needed"
        os=$(uname -s | tr '[:upper:]' '[:lower:]')
        arch=$(uname -m)
        case "$arch" in
            amd64) arch=x86_64 ;;
            arm64) arch=aarch64 ;;
        esac
        platform="$os-$arch"
        [ "$platform" = "$offered" ] || fail "this Hub offers the agent for $offered; this machine is $platform"

        bindir=${PORTEN_INSTALL_DIR:-"$HOME/.local/bin"}
        mkdir -p "$bindir"
        tmp=$(mktemp "$bindir/.porten.XXXXXX")
        trap 'rm -f "$tmp"' EXIT
        say "downloading the agent from $hub"
        curl -fsSL "$hub/download/porten-$platform" -o "$tmp" || fail "download failed: $hub/download/porten-$platform"
        chmod 755 "$tmp"
        mv -f "$tmp" "$bindir/porten"
        trap - EXIT
        say "installed $bindir/porten"
        case ":$PATH:" in
            *":$bindir:"*) ;;
            *) say "add $bindir to your PATH to run porten yourself" ;;
        esac

        if [ -z "${PORTEN_ENGINE:-}" ]; then
            if tags=$(curl -fsS -m 2 http://127.0.0.1:11434/api/tags 2>/dev/null); then
                PORTEN_ENGINE=ollama
                if [ -z "${PORTEN_ENGINE_MODELS:-}" ]; then
                    PORTEN_ENGINE_MODELS=$(printf '%s' "$tags" | tr ',' '\n' | sed -n 's/.*"name":"\([^"]*\)".*/\1/p' | paste -sd, -)
                    export PORTEN_ENGINE_MODELS
                fi
            else
                PORTEN_ENGINE=builtin
            fi
        fi
        export PORTEN_ENGINE
        say "engine: $PORTEN_ENGINE"

        "$bindir/porten" login --hub "$hub"
        "$bindir/porten" service install
        """#
}
