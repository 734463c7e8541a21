"""curl / wget stand-ins: the guest has no network; URLs are answered from the
`$LIMA_HOME/_sim/downloads` fixtures (byte-exact), anything else fails like an offline host."""

import json
import os
import sys
import urllib.parse

import standin

CURL_VALUE_SHORT = set("oHdXuwAemTFxrCKEbcDzQYyt")
CURL_VALUE_LONG = {"--output", "--retry", "--retry-delay", "--retry-max-time", "--connect-timeout", "--max-time",
                   "--proto", "--proto-redir", "--header", "--data", "--data-raw", "--data-binary",
                   "--data-urlencode", "--request", "--user-agent", "--write-out", "--output-dir", "--url",
                   "--cacert", "--capath", "--user", "--referer", "--cookie", "--cookie-jar", "--form",
                   "--upload-file", "--proxy", "--range", "--continue-at", "--config", "--limit-rate",
                   "--max-filesize", "--resolve", "--connect-to", "--interface", "--dns-servers", "--ciphers",
                   "--cert", "--key", "--pinnedpubkey", "--unix-socket", "--max-redirs", "--time-cond", "--oauth2-bearer"}


def lookup(url):
    """Return (status, bytes) for a fixture URL, or None when the URL is unknown."""
    if url.startswith("file://"):
        path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
        try:
            with open(path, "rb") as f:
                return 200, f.read()
        except OSError:
            return "nofile", None
    try:
        with open(os.path.join(standin.SIM_DIR, "downloads.json")) as f:
            idx = json.load(f)
    except (OSError, ValueError):
        idx = {}
    ent = idx.get(url)
    if ent is None:
        return None
    standin.network_round_trip()
    if isinstance(ent, str):
        ent = {"file": ent}
    status = int(ent.get("status", 200))
    data = b""
    if ent.get("file"):
        with open(os.path.join(standin.SIM_DIR, "downloads", ent["file"]), "rb") as f:
            data = f.read()
    return status, data


def host_of(url):
    return urllib.parse.urlsplit(url).hostname or url


def curl_main(argv):
    flags = set()
    output = []
    output_dir = None
    write_out = None
    urls = []
    remote_name = 0
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a.startswith("--"):
            name, eq, val = a.partition("=")
            if name in CURL_VALUE_LONG:
                if not eq:
                    val = argv[i] if i < len(argv) else ""
                    i += 1
                if name == "--output":
                    output.append(val)
                elif name == "--output-dir":
                    output_dir = val
                elif name == "--write-out":
                    write_out = val
                elif name == "--url":
                    urls.append(val)
            else:
                flags.add(name)
                if name == "--remote-name":
                    remote_name += 1
            continue
        if a.startswith("-") and len(a) > 1:
            j = 1
            while j < len(a):
                c = a[j]
                if c in CURL_VALUE_SHORT:
                    val = a[j + 1:] or (argv[i] if i < len(argv) else "")
                    if not a[j + 1:]:
                        i += 1
                    if c == "o":
                        output.append(val)
                    elif c == "w":
                        write_out = val
                    break
                flags.add("-" + c)
                if c == "O":
                    remote_name += 1
                j += 1
            continue
        urls.append(a)
    silent = "-s" in flags or "--silent" in flags
    show_err = "-S" in flags or "--show-error" in flags
    fail = "-f" in flags or "--fail" in flags or "--fail-with-body" in flags

    def error(code, msg):
        if not silent or show_err:
            sys.stderr.write("curl: (%d) %s\n" % (code, msg))
        return code

    if not urls:
        sys.stderr.write("curl: no URL specified\ncurl: try 'curl --help' or 'curl --manual' for more information\n")
        return 2
    rc = 0
    for n, url in enumerate(urls):
        if not url.startswith(("http://", "https://", "file://", "ftp://")):
            url = "http://" + url
        res = lookup(url)
        if res is None:
            rc = error(6, "Could not resolve host: %s" % host_of(url))
            continue
        status, data = res
        if status == "nofile":
            rc = error(37, "Couldn't open file %s" % urllib.parse.urlsplit(url).path)
            continue
        if status >= 400 and fail:
            if "--fail-with-body" in flags and data:
                sys.stdout.buffer.write(data)
            rc = error(22, "The requested URL returned error: %d" % status)
            continue
        dest = None
        if n < len(output):
            dest = output[n]
        elif remote_name > n:
            dest = os.path.basename(urllib.parse.urlsplit(url).path) or "index.html"
        if dest and dest != "-":
            if output_dir and not os.path.isabs(dest):
                dest = os.path.join(output_dir, dest)
            if "--create-dirs" in flags and os.path.dirname(dest):
                os.makedirs(os.path.dirname(dest), exist_ok=True)
            try:
                with open(dest, "wb") as f:
                    f.write(data)
            except OSError as e:
                rc = error(23, "Failure writing output to destination, passed %d returned 0 (%s)" % (len(data), e))
                continue
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        if write_out:
            sys.stdout.write(write_out.replace("%{http_code}", str(status)).replace("%{response_code}", str(status))
                             .replace("%{size_download}", str(len(data))).replace("\\n", "\n"))
    return rc


def wget_main(argv):
    quiet = False
    out_doc = None
    prefix = None
    urls = []
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a in ("-q", "--quiet"):
            quiet = True
        elif a in ("-O", "--output-document"):
            out_doc = argv[i]
            i += 1
        elif a.startswith("--output-document="):
            out_doc = a.split("=", 1)[1]
        elif a in ("-P", "--directory-prefix"):
            prefix = argv[i]
            i += 1
        elif a.startswith("--directory-prefix="):
            prefix = a.split("=", 1)[1]
        elif a.startswith("-") and not a.startswith("--") and len(a) > 2 and "O" in a[1:]:
            # combined short flags such as -qO- or -qO file
            k = a.index("O")
            quiet = quiet or "q" in a[1:k]
            out_doc = a[k + 1:] or argv[i]
            if not a[k + 1:]:
                i += 1
        elif a.startswith("-"):
            if a in ("-T", "-t", "-U", "--header", "--tries", "--timeout", "-e", "--user-agent"):
                i += 1
            continue
        else:
            urls.append(a)
    if not urls:
        sys.stderr.write("wget: missing URL\n")
        return 1
    rc = 0
    for url in urls:
        res = lookup(url)
        if res is None or res[0] == "nofile":
            if not quiet:
                sys.stderr.write("wget: unable to resolve host address ‘%s’\n" % host_of(url))
            rc = 4
            continue
        status, data = res
        if status >= 400:
            if not quiet:
                sys.stderr.write("%s ERROR %d: Not Found.\n" % (url, status))
            rc = 8
            continue
        if out_doc == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
            continue
        dest = out_doc or os.path.basename(urllib.parse.urlsplit(url).path) or "index.html"
        if not out_doc:
            if prefix:
                dest = os.path.join(prefix, dest)
            base, k = dest, 1
            while os.path.exists(dest):
                dest = "%s.%d" % (base, k)
                k += 1
        with open(dest, "wb") as f:
            f.write(data)
        if not quiet:
            sys.stderr.write("‘%s’ saved [%d/%d]\n" % (dest, len(data), len(data)))
    return rc
