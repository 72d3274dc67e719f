import java.io.InputStream;

/**
 * Prints a resource of the classpath (java -cp 'libs/*' JarResource.java NAME): the tests read files that a jar ships,
 * such as the Glue SerDe's metadata/metadata.proto, without unpacking it.
 */
public class JarResource {
  public static void main(String[] args) throws Exception {
    try (InputStream in = JarResource.class.getClassLoader().getResourceAsStream(args[0])) {
      if (in == null) throw new IllegalArgumentException("no resource " + args[0] + " on the classpath");
      System.out.write(in.readAllBytes());
      System.out.flush();
    }
  }
}
