#!/usr/bin/env python3
"""A small articles API to put Gatehouse in front of (README, "In front of your own API").

Python's standard library only. It knows nothing of tokens, limits or caches: the edge in front of it
verifies the caller's token and passes the caller's identity in X-Gatehouse-Sub, after removing any such
header the client sent. Its articles live in memory (three to start with) and are lost when it stops.

    GET  /articles        {"articles": [{"id", "title", "body", "author"}, ...]}
    GET  /articles/{id}   {"id", "title", "body", "author"}, or 404
    PUT  /articles/{id}   a JSON {"title", "body"}: stored with the caller as its author; 401 without a caller

Usage: python3 config/examples/articles_api.py [PORT]   (127.0.0.1, port 8000 by default)
"""
import http.server
import json
import sys
import threading

articles = {
    str(n): {"id": str(n), "title": title, "body": body, "author": "gatehouse"}
    for n, (title, body) in enumerate(
        [("Hello", "the first article"), ("Caching", "the second article"), ("Limits", "the third article")], start=1
    )
}
lock = threading.Lock()


class ArticlesAPI(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def answer(self, status, document):
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def article_id(self):
        parts = self.path.split("?")[0].strip("/").split("/")
        return parts[1] if len(parts) == 2 and parts[0] == "articles" else None

    def do_GET(self):
        with lock:
            if self.path.split("?")[0].rstrip("/") == "/articles":
                return self.answer(200, {"articles": sorted(articles.values(), key=lambda article: article["id"])})
            article = articles.get(self.article_id())
        if article is None:
            return self.answer(404, {"error": "no such article"})
        self.answer(200, article)

    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        article_id = self.article_id()
        caller = self.headers.get("X-Gatehouse-Sub")
        if article_id is None:
            return self.answer(404, {"error": "no such resource"})
        if caller is None:
            return self.answer(401, {"error": "no caller"})
        try:
            fields = json.loads(body)
            article = {"id": article_id, "title": str(fields["title"]), "body": str(fields["body"]), "author": caller}
        except (ValueError, KeyError, TypeError):
            return self.answer(400, {"error": "a JSON object with title and body"})
        with lock:
            articles[article_id] = article
        self.answer(200, article)


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    http.server.ThreadingHTTPServer(("127.0.0.1", port), ArticlesAPI).serve_forever()
