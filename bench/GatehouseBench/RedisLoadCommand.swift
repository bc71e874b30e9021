import ArgumentParser
struct RedisLoadCommand: AsyncParsableCommand { func run() async throws {} }
