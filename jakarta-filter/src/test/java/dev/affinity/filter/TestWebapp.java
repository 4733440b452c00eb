package dev.affinity.filter;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Base64;
import dev.affinity.cookie.Keyring;

/** Writes the test web application ({@code WEB-INF/web.xml} only; classes come from the test class path). */
final class TestWebapp {
  static final String KEYS = "t2:" + secret(2) + ",t1:" + secret(1);
  static final Keyring KEYRING = Keyring.parse(KEYS);
  /** A keyring with the same key ids but other secrets: its cookies must not open. */
  static final Keyring FOREIGN = Keyring.parse("t2:" + secret(9));

  private TestWebapp() {}

  static String secret(int seed) {
    byte[] bytes = new byte[32];
    for (int i = 0; i < bytes.length; i++) {
      bytes[i] = (byte) (seed * 31 + i);
    }
    return Base64.getEncoder().encodeToString(bytes);
  }

  /** The init-params of the standard test webapp. */
  static Map<String, String> standardParams() {
    Map<String, String> params = new LinkedHashMap<>();
    params.put("targetId", "app-1");
    params.put("targetGroup", "blue");
    params.put("keys", KEYS);
    params.put("cors", "true");
    params.put("pinDuration", "PT20M");
    return params;
  }

  static Path write(Map<String, String> initParams) throws IOException {
    return write(initParams, true);
  }

  /** The web application; without {@code withFilter} its {@code web.xml} declares no filter. */
  static Path write(Map<String, String> initParams, boolean withFilter) throws IOException {
    Path root = Path.of("target", "webapps");
    Files.createDirectories(root);
    Path dir = Files.createTempDirectory(root.toAbsolutePath(), "webapp-");
    Files.createDirectories(dir.resolve("WEB-INF"));
    StringBuilder xml = new StringBuilder();
    xml.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .append("<web-app xmlns=\"https://jakarta.ee/xml/ns/jakartaee\" version=\"6.0\" metadata-complete=\"true\">\n");
    if (withFilter) {
      filter(xml, initParams);
    }
    servlet(xml, "pin", "Pin", "/pin");
    servlet(xml, "release", "Release", "/release");
    servlet(xml, "whoami", "WhoAmI", "/whoami");
    servlet(xml, "redirect", "Redirect", "/redirect");
    servlet(xml, "redirect61", "Redirect61", "/redirect61");
    servlet(xml, "flush", "Flush", "/flush");
    servlet(xml, "async", "Async", "/async");
    servlet(xml, "error", "Error", "/error");
    servlet(xml, "errorPage", "ErrorPage", "/error-page");
    servlet(xml, "session", "Session", "/session");
    servlet(xml, "cdi", "Cdi", "/cdi");
    servlet(xml, "cart", "Cart", "/cart/*");
    xml.append("  <error-page>\n    <location>/error-page</location>\n  </error-page>\n");
    xml.append("</web-app>\n");
    Files.writeString(dir.resolve("WEB-INF/web.xml"), xml, StandardCharsets.UTF_8);
    return dir;
  }

  private static void filter(StringBuilder xml, Map<String, String> initParams) {
    xml.append("  <filter>\n    <filter-name>affinity</filter-name>\n")
        .append("    <filter-class>dev.affinity.filter.AffinityFilter</filter-class>\n")
        .append("    <async-supported>true</async-supported>\n");
    for (Map.Entry<String, String> p : initParams.entrySet()) {
      xml.append("    <init-param><param-name>").append(escape(p.getKey())).append("</param-name><param-value>")
          .append(escape(p.getValue())).append("</param-value></init-param>\n");
    }
    xml.append("  </filter>\n")
        .append("  <filter-mapping>\n    <filter-name>affinity</filter-name>\n    <url-pattern>/*</url-pattern>\n")
        .append("    <dispatcher>REQUEST</dispatcher>\n    <dispatcher>ASYNC</dispatcher>\n")
        .append("    <dispatcher>ERROR</dispatcher>\n    <dispatcher>FORWARD</dispatcher>\n  </filter-mapping>\n");
  }

  private static void servlet(StringBuilder xml, String name, String simpleClass, String path) {
    xml.append("  <servlet>\n    <servlet-name>").append(name).append("</servlet-name>\n")
        .append("    <servlet-class>dev.affinity.filter.TestServlets$").append(simpleClass).append("</servlet-class>\n")
        .append("    <async-supported>true</async-supported>\n  </servlet>\n")
        .append("  <servlet-mapping>\n    <servlet-name>").append(name).append("</servlet-name>\n")
        .append("    <url-pattern>").append(path).append("</url-pattern>\n  </servlet-mapping>\n");
  }

  private static String escape(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }
}
