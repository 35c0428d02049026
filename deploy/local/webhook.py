"""A stand-in for the pager and the chat: prints every Alertmanager notification it receives.

  webhook.py HOST PORT     (receivers are told apart by the path: /pager, /chat)
"""
import http.server
import json
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        stamp = time.strftime("%H:%M:%S")
        for alert in body.get("alerts", []):
            labels = alert.get("labels", {})
            where = " ".join(f"{k}={labels[k]}" for k in ("kafka_cluster", "link", "mirror_topic") if k in labels)
            print(f"{stamp} {self.path.strip('/'):>5} {alert.get('status', '?'):8} "
                  f"{labels.get('severity', '?'):8} {labels.get('alertname', '?')} {where}", flush=True)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
