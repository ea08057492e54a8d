package org.splice4j.jetty;

import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

import com.code_intelligence.jazzer.api.BugDetectors;
import com.code_intelligence.jazzer.api.SilentCloseable;
import com.code_intelligence.jazzer.junit.FuzzTest;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * Fuzzes the Upgrade request check of {@link SpliceUpgradeHandler}: the input is sent as a raw request to a loopback
 * Jetty with the handler in front of a handler that answers 200. {@code isProxiedUpgrade} is protected (an override
 * point taking Jetty's Request), so it is fuzzed where it runs, behind Jetty's parser, followed by the rest of the
 * gate (authority, loop and destination checks). The only destination allowed is 127.0.0.1:1, where nothing listens:
 * a request that gets through is refused with 502, and nothing leaves loopback.
 *
 * <p>Checked: the check throws nothing and answers true only for what its contract says (HTTP/1.1 GET with an http
 * or ws URI, a host, Upgrade and Connection: upgrade, no body), and no request gets a 500 (an exception out of the
 * handler).
 */
class UpgradeRequestFuzzTest {

    private static Proxy proxy;
    private static volatile Throwable violation;

    @FuzzTest(maxDuration = "60s")
    void request(byte[] input) throws Exception {
        String status;
        try (SilentCloseable loopback = BugDetectors.allowNetworkConnections((host, port) -> isLoopback(host))) {
            status = exchange(input);
        }
        Throwable v = violation;
        violation = null;
        assertNull(v, () -> "isProxiedUpgrade: " + v);
        assertNotEquals("500", status, "an exception escaped the handler");
    }

    /** Sends the request, ends the stream, and returns the response's status code ("" when Jetty just closed). */
    private static String exchange(byte[] request) throws Exception {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), proxy().port())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(request);
            s.shutdownOutput();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[4096];
            try {
                for (int n; got.size() < 16 && (n = in.read(buf)) > 0; ) {
                    got.write(buf, 0, n);
                }
            } catch (SocketTimeoutException | SocketException closed) {
                // a reset after Jetty's answer: the status line, if any, has arrived
            }
            String head = got.toString(StandardCharsets.ISO_8859_1);
            return head.startsWith("HTTP/1.1 ") && head.length() >= 12 ? head.substring(9, 12) : "";
        }
    }

    private static boolean isLoopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (IOException e) {
            return false;
        }
    }

    private static synchronized Proxy proxy() throws Exception {
        if (proxy == null) {
            SpliceUpgradeHandler upgrades = new CheckedUpgradeHandler();
            upgrades.getHostIncludeExclude().include("127.0.0.1:1");
            upgrades.setConnectTimeout(2_000);
            upgrades.setHandler(new Handler.Abstract() {
                @Override
                public boolean handle(Request request, Response response, Callback callback) {
                    response.setStatus(200);
                    callback.succeeded();
                    return true;
                }
            });
            proxy = Proxy.start(upgrades);
        }
        return proxy;
    }

    /** Checks each answer of the real check against its documented contract; a violation fails the next assertion. */
    private static final class CheckedUpgradeHandler extends SpliceUpgradeHandler {
        @Override
        protected boolean isProxiedUpgrade(Request request, HttpURI uri) {
            boolean yes;
            try {
                yes = super.isProxiedUpgrade(request, uri);
            } catch (Throwable t) {
                violation = t;
                throw t;
            }
            if (yes) {
                String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
                boolean contract = request.getConnectionMetaData().getHttpVersion() == HttpVersion.HTTP_1_1
                        && HttpMethod.GET.is(request.getMethod()) && uri.getHost() != null
                        && (scheme.equals("http") || scheme.equals("ws")) && request.getLength() <= 0
                        && request.getHeaders().contains(HttpHeader.UPGRADE)
                        && request.getHeaders().contains(HttpHeader.CONNECTION, "upgrade");
                if (!contract) {
                    violation = new AssertionError("accepted " + request.getMethod() + " " + uri);
                }
            }
            return yes;
        }
    }
}
