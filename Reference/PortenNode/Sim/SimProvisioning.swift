/// How a provisionable sim node simulates downloads and loads (docs/sim-engine.md).
public struct SimProvisioning: Sendable, Equatable {
    /// VRAM the Hub may fill, in MB.
    public var vramBudgetMB: Int
    /// Disk for cached weights, in MB; least recently used weights that are not loaded are dropped past it.
    public var diskBudgetMB: Int
    /// Simulated download speed.
    public var downloadMBps: Int
    /// Simulated speed of loading weights into VRAM.
    public var loadMBps: Int
    /// Time between progress reports.
    public var tick: Duration
    /// How long an unload takes before the VRAM is free (a real server's stop).
    public var unloadTime: Duration

    public init(
        vramBudgetMB: Int, diskBudgetMB: Int = 200_000, downloadMBps: Int = 1000, loadMBps: Int = 2000, tick: Duration = .milliseconds(100),
        unloadTime: Duration = .zero
    ) {
        self.vramBudgetMB = vramBudgetMB
        self.diskBudgetMB = diskBudgetMB
        self.downloadMBps = downloadMBps
        self.loadMBps = loadMBps
        self.tick = tick
        self.unloadTime = unloadTime
    }

    /// The `download_ref` that makes a simulated download fail half way.
    public static let failingDownloadRef = "sim:fail"
}
