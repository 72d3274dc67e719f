// Starts DynamoDB Local bound to 127.0.0.1 only. Its own ServerRunner has no bind-address option and
// listens on every interface, so this launcher builds the same server and binds its Jetty connector to
// loopback before starting it. Run as a single-file source program:
//   java -Djava.library.path=<native> -cp <libs>/* DynamoDbLoopback.java <port> <dbPath>
import com.amazonaws.services.dynamodbv2.local.server.DynamoDBProxyServer;
import com.amazonaws.services.dynamodbv2.local.server.LocalDynamoDBRequestHandler;
import com.amazonaws.services.dynamodbv2.local.server.LocalDynamoDBServerHandler;
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

public class DynamoDbLoopback {
  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    String dbPath = args[1];
    // (port, inMemory, dbPath, sharedDb, delayTransientStatuses): one shared file-backed db, so data
    // survives a stop/start of the process.
    LocalDynamoDBRequestHandler requests = new LocalDynamoDBRequestHandler(0, false, dbPath, true, false);
    DynamoDBProxyServer proxy = new DynamoDBProxyServer(port, new LocalDynamoDBServerHandler(requests, "*"));
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server server = (Server) field.get(proxy);
    for (Connector connector : server.getConnectors()) {
      ((ServerConnector) connector).setHost("127.0.0.1");
    }
    proxy.start();
    System.out.println("DynamoDB Local listening on 127.0.0.1:" + port + " (dbPath " + dbPath + ")");
    proxy.join();
  }
}
