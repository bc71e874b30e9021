import ArgumentParser
import EdgeRouterCore
import GatehouseCommand

/// `edge-router`: the public front door; verify, limit, cache, forward.
@main
enum EdgeRouterCommand {
    static func main() async {
        await ServiceCommand<EdgeRouterService>.main()
    }
}
