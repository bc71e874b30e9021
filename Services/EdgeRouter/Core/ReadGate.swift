/// Whether a connection's reads are held back while the one a streamed body goes to cannot take more
/// (``BodyStream``), and whether a read was asked for meanwhile: how a handler stops reading its connection
/// without turning `autoRead` off (swift-nio's `GlueHandler` pattern).
struct ReadGate {
    private var isShut = false
    private var held = false

    /// Holds reads back from now on.
    mutating func shut() {
        self.isShut = true
    }

    /// A read was asked for: whether to pass it on now (else it is held until ``open()``).
    mutating func admits() -> Bool {
        if self.isShut { self.held = true }
        return !self.isShut
    }

    /// Lets reads through again; returns whether a held read must be passed on now.
    mutating func open() -> Bool {
        defer { self.held = false }
        self.isShut = false
        return self.held
    }
}
