// Which methods the server's routes take, gathered as Fastify registers them, so a URL the server
// serves, asked with another method, is a 405 naming the allowed ones rather than an unknown-URL
// 404. Route paths are Fastify's: a ":name" segment matches any one segment.

export class RouteMethods {
  private readonly routes: { pattern: RegExp; methods: readonly string[] }[] = [];

  add(method: string | readonly string[], url: string): void {
    const source = url
      .split("/")
      .map((segment) => (segment.startsWith(":") ? "[^/]+" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
      .join("/");
    this.routes.push({ pattern: new RegExp(`^${source}$`), methods: typeof method === "string" ? [method] : method });
  }

  /** The methods some route takes at `url` (its query string ignored), in registration order. */
  allowed(url: string): string[] {
    const query = url.indexOf("?");
    const path = query < 0 ? url : url.slice(0, query);
    const methods = new Set<string>();
    for (const route of this.routes) if (route.pattern.test(path)) for (const method of route.methods) methods.add(method);
    return [...methods];
  }
}
