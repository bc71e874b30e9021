/// One entry of a route's `upstream.invalidates`: a path whose `{parameters}` are the route template's,
/// filled in from the written request's path (`/articles/{id}` → `/articles/7` for `PUT /articles/7`).
struct PathTemplate: Sendable, Equatable {
    /// The template as written.
    var text: String
    /// Its segments.
    var segments: [EdgeRoute.Segment]

    /// The path for a request whose route template captured `parameters`.
    /// - Parameter parameters: The route template's parameters, by name; the template uses no others
    ///   (checked at load).
    func path(with parameters: RouteParameters) -> String {
        var path = ""
        for segment in self.segments {
            path.append("/")
            switch segment {
            case .literal(let text): path.append(text)
            case .parameter(let name): path.append(parameters[name] ?? "")
            }
        }
        return HTTPUpstreamRoute.normalized(path)
    }
}
