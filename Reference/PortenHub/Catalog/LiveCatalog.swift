import Synchronization

/// The catalog as requests see it right now: the operator enables and disables models from the
/// portal while the Hub runs.
public final class LiveCatalog: Sendable {
    private let state: Mutex<Catalog>

    public init(_ catalog: Catalog) { state = Mutex(catalog) }

    public var current: Catalog { state.withLock { $0 } }

    /// - Returns: false when the catalog has no model `id`.
    @discardableResult
    public func setEnabled(_ id: String, _ enabled: Bool) -> Bool {
        state.withLock { catalog in
            guard let index = catalog.models.firstIndex(where: { $0.id == id }) else { return false }
            catalog.models[index].enabled = enabled
            return true
        }
    }
}
