package dev.affinity.rules;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** A request as an adapter would hand it to rules: everything as sent. */
class TestRequest implements RuleRequest {
  String host = "example.com";
  String method = "GET";
  String rawPath = "/";
  String rawQuery;
  InetAddress source = address("192.0.2.10");
  final Map<String, List<String>> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);

  static TestRequest get(String rawPath) {
    TestRequest r = new TestRequest();
    r.rawPath = rawPath;
    return r;
  }

  TestRequest host(String host) {
    this.host = host;
    return this;
  }

  TestRequest method(String method) {
    this.method = method;
    return this;
  }

  TestRequest query(String rawQuery) {
    this.rawQuery = rawQuery;
    return this;
  }

  TestRequest header(String name, String value) {
    headers.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
    return this;
  }

  TestRequest source(String ip) {
    this.source = address(ip);
    return this;
  }

  RequestPath path() {
    return RequestPath.parse(rawPath);
  }

  static InetAddress address(String ip) {
    try {
      return ip == null ? null : InetAddress.getByName(ip); // literals only in tests
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(ip, e);
    }
  }

  @Override
  public String host() {
    return host;
  }

  @Override
  public String method() {
    return method;
  }

  @Override
  public String rawPath() {
    return rawPath;
  }

  @Override
  public String rawQuery() {
    return rawQuery;
  }

  @Override
  public List<String> headers(String name) {
    return headers.getOrDefault(name.toLowerCase(Locale.ROOT), List.of());
  }

  @Override
  public InetAddress sourceAddress() {
    return source;
  }

  @Override
  public String toString() {
    return method + " " + host + rawPath + (rawQuery == null ? "" : "?" + rawQuery) + " " + headers + " from " + source;
  }
}
