package org.splice4j.samples;

import java.util.Arrays;

/** {@code java -jar splice4j-samples.jar COMMAND [FLAGS]}: the runnable samples and the benchmark. */
public final class Main {

    private Main() {
    }

    static final String USAGE = String.join("\n",
            "usage: java -jar splice4j-samples.jar COMMAND [FLAGS]",
            "commands:",
            "  forward --listen HOST:PORT --target HOST:PORT [--transport nio|epoll] [--grace SECONDS] [LIMITS]",
            "        a TCP port forwarder on Netty; splices with -Dsplice4j.enabled=true, copies otherwise",
            "  socks5 --listen HOST:PORT [--allow CIDR[:PORT[-PORT]]]... [--user NAME:PASSWORD]"
                    + " [--transport nio|epoll] [--grace SECONDS] [LIMITS] [--allow-open]",
            "        a SOCKS5 proxy (RFC 1928/1929); loopback destinations only unless --allow widens it",
            "  jetty-proxy --listen HOST:PORT [--allow CIDR[:PORT[-PORT]]]... [--buffer SIZE] [--grace SECONDS]"
                    + " [LIMITS] [--allow-open]",
            "        a Jetty forward proxy: CONNECT tunnels, Upgrade (WebSocket) tunnels and plain HTTP;",
            "        loopback destinations only unless --allow widens it; --buffer is ConnectHandler's copy buffer",
            "  jetty-proxy --listen HOST:PORT --target HOST:PORT [--grace SECONDS] [LIMITS]",
            "        a Jetty reverse proxy in front of one origin (SpliceProxyServlet.Transparent on /*)",
            "  http-proxy --listen HOST:PORT [--target HOST:PORT] [--allow CIDR[:PORT[-PORT]]]... [--threshold SIZE]"
                    + " [--transport nio|epoll] [--grace SECONDS] [LIMITS] [--allow-open]",
            "        an HTTP/1.1 proxy on Netty, kept alive both sides: forward (absolute-form, CONNECT) or reverse to",
            "        --target (origin-form); response bodies with a Content-Length of --threshold (default 1m) or more",
            "        are spliced, the rest goes through the codecs; loopback destinations only unless --allow widens it",
            "  LIMITS: --handshake-timeout DURATION (default 10s) --idle-timeout DURATION (default 10m, 0 none)",
            "        --max-connections N (default 4096); durations as 500ms, 10s, 10m",
            "  --allow-open: listen on a non-loopback address without --allow (or --user): every loopback-only",
            "        service of this host becomes reachable through the proxy; refused unless given",
            "  relay --listen HOST:PORT --target HOST:PORT",
            "        a minimal TCP forwarder on the bare splice4j API (java.nio accept/connect, then splice)",
            "  bench [--bytes SIZE] [--runs N] [--rows ROW,...] [--proxy NAME=COMMAND]... [--html FILE]",
            "        relay throughput and relay CPU seconds per GiB of the samples, splicing off, copy and linux,",
            "        on NIO and epoll; each relay in a child JVM. Rows: " + String.join(",", Bench.ROWS.keySet()),
            "        --proxy adds a row relayed by any command (HAProxy, socat, ...), run by /bin/sh -c with",
            "        {listen} and {target} replaced by 127.0.0.1:PORT ({listenPort}, {targetPort}: the ports)",
            "        the table goes to stdout, progress and time left to stderr; --html FILE also writes the",
            "        figures as a self-contained page with charts (open it in a browser: xdg-open FILE)",
            "  bench --streams N [--time DURATION] [--runs N] [--rows ROW,...] [--proxy NAME=COMMAND]... [--heap SIZE]",
            "        memory per active tunnel: N bulk streams at once through each relay, up then down, --time each",
            "        way (default 64 streams, 10s, 3 runs, rows forward-nio-linux,forward-nio-copy,forward-nio-stock);",
            "        per stream, the relay's peak resident memory (RSS, RssAnon) and pipe capacity over its idle",
            "        figures, pipes, throughput, CPU per GiB; sample rows get -Xms/-Xmx --heap (default 256m)",
            "  bench --tunnels N [--rate SIZE] [--time DURATION] [--warmup DURATION] [--runs N] [--rows ROW,...]"
                    + " [--proxy NAME=COMMAND]...",
            "        many slow tunnels: N (default 1000) through each row's relay at --rate bytes/s each way (default",
            "        100k), paced every 50 ms, every byte checked, plus a 64-byte ping-pong tunnel; per row the rate",
            "        achieved (under 95 % of it: VOID), relay CPU-s/GiB, ping p50/p99 (us) and errors; --time 20s",
            "        measured after --warmup 5s, --runs 3, --rows default forward-nio-linux,forward-nio-stock",
            "  bench --http [--body SIZE] [--connections N] [--time DURATION] [--warmup DURATION] [--runs N]"
                    + " [--rows ROW,...] [--proxy NAME=COMMAND]...",
            "        HTTP/1.1 bodies on kept-alive connections through reverse proxies to one origin: N (default 10)",
            "        clients GET --body (default 4m) bodies one after another, each checked, for --time (default 15s)",
            "        after --warmup (default 30s: the JIT settles); per row req/s, Gbit/s, proxy CPU-s/GiB, connections",
            "        opened, failed requests (any: exit 1); rows: "
                    + String.join(",", BenchHttp.ROWS.keySet()),
            "  doctor",
            "        what this machine and JVM allow: providers and why not, JVM flags, pipe and descriptor limits;",
            "        exit 0 when splicing would work with -Dsplice4j.enabled=true, 1 when not",
            "splicing: -Dsplice4j.provider=linux|copy and the other splice4j.* properties (see README)");

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            usage("no command given");
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        switch (args[0]) {
            case "forward":
                ForwardSample.main(rest);
                break;
            case "socks5":
                Socks5Sample.main(rest);
                break;
            case "http-proxy":
                HttpProxySample.main(rest);
                break;
            case "jetty-proxy":
                JettyProxySample.main(rest);
                break;
            case "relay":
                RelaySample.main(rest);
                break;
            case "bench":
                Bench.main(rest);
                break;
            case "doctor":
                Doctor.main(rest);
                break;
            case "-h":
            case "--help":
                System.out.println(USAGE);
                break;
            default:
                usage("unknown command: " + args[0]);
        }
    }

    static void usage(String problem) {
        System.err.println("error: " + problem);
        System.err.println(USAGE);
        System.exit(2);
    }
}
