// Upserts (or deletes) a SCRAM credential through the Kafka Admin API; run as a single-file source
// program (`java -cp <kafka libs>/* ScramAdmin.java ...`), so no build step and no dependency on
// the CLI tool class names, which moved between Kafka 3.x and 4.x.
// Usage: ScramAdmin <bootstrap> <SCRAM-SHA-256|SCRAM-SHA-512> <user> <password|--delete> [iterations]
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialDeletion;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;

public class ScramAdmin {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    ScramMechanism mechanism = ScramMechanism.fromMechanismName(args[1]);
    int iterations = args.length > 4 ? Integer.parseInt(args[4]) : 4096;
    UserScramCredentialAlteration alteration = "--delete".equals(args[3])
        ? new UserScramCredentialDeletion(args[2], mechanism)
        : new UserScramCredentialUpsertion(args[2], new ScramCredentialInfo(mechanism, iterations), args[3]);
    try (Admin admin = Admin.create(props)) {
      admin.alterUserScramCredentials(List.of(alteration)).all().get();
    }
    System.out.println("ok");
  }
}
