#!/usr/bin/python3
"""Store DICOM files into a STOW-RS service the way odil (python3-odil 0.12.x) builds it.

odil builds the request (odil.webservices.STOWRSRequest.request_dicom) and the
response is read back with odil.webservices.STOWRSResponse. odil has no HTTP
transport of its own, so http.client carries odil's method, path, headers and
body unchanged; http.client adds only Host and Content-Length, and speaks
HTTP/1.1 where odil's HTTPRequest says HTTP/1.0.

odil decodes each file and writes it again (Writer.write_file with a fresh
File Meta Information group naming odil as the implementation), so the parts
it sends are not the input files byte for byte. --body-out keeps the exact
body sent so the caller can compare what the service stored with it.

Usage: odil-stow.py --url BASE --body-out FILE [--accept MEDIA-TYPE] FILE...
Prints one JSON object on stdout.
"""
import argparse
import http.client
import json
import sys

import odil

ws = odil.webservices


def read_data_set(path):
    with odil.open(path) as stream:
        _meta, data_set = odil.Reader.read_file(stream)
    return data_set


def text(data_set, keyword):
    return data_set.as_string(keyword)[0].decode("ascii")


def build_request(base_url, data_sets):
    # odil only builds requests to /studies/{StudyInstanceUID}: its selector
    # must name exactly one study.
    studies = {text(ds, "StudyInstanceUID") for ds in data_sets}
    if len(studies) != 1:
        raise SystemExit(f"odil sends one study per request; the files hold {len(studies)}")
    request = ws.STOWRSRequest(ws.URL.parse(base_url))
    selector = ws.Selector({"studies": studies.pop()})
    request.request_dicom(data_sets, selector, ws.Utils.Representation.DICOM)
    return request.get_http_request()


def parse_with_odil(status, reason, headers, body):
    """What odil's STOWRSResponse makes of the reply, or the error it raises."""
    try:
        response = ws.STOWRSResponse(ws.HTTPResponse("HTTP/1.1", status, reason, headers, body))
    except Exception as error:  # odil raises its own Exception type; report it, don't crash
        return {"error": str(error)}
    return {
        "reason": response.get_reason(),
        "failureCode": response.get_failure_code(),
        "warning": response.is_status_warning(),
        "mediaType": response.get_media_type(),
        "dataSet": json.loads(odil.as_json(response.get_store_instance_responses())),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="service base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--body-out", required=True, help="where to save the request body odil built")
    parser.add_argument("--accept", help="Accept header to add (odil sets none)")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()

    http_request = build_request(args.url, [read_data_set(f) for f in args.files])
    target = http_request.get_target()
    path = target.path + (f"?{target.query}" if target.query else "")
    headers = dict(http_request.get_headers())
    if args.accept:
        headers["Accept"] = args.accept
    body = http_request.get_body()
    with open(args.body_out, "wb") as out:
        out.write(body)

    host, _, port = target.authority.partition(":")
    connection = http.client.HTTPConnection(host, int(port or 80), timeout=60)
    try:
        # skip_accept_encoding: send odil's headers, not http.client's extras.
        connection.putrequest(http_request.get_method(), path, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        reply = response.read().decode("utf-8")
        reply_headers = dict(response.getheaders())
    finally:
        connection.close()

    json.dump(
        {
            "request": {
                "method": http_request.get_method(),
                "path": path,
                "httpVersion": http_request.get_http_version(),
                "headers": headers,
                "bodyBytes": len(body),
            },
            "status": response.status,
            "contentType": response.getheader("Content-Type", ""),
            "body": reply,
            "odil": parse_with_odil(response.status, response.reason, reply_headers, reply),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
