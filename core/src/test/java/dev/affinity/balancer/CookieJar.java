package dev.affinity.balancer;

import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.SetCookie;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A client's cookie jar, kept the way a browser keeps it: replaced by name, forgotten on removal. */
final class CookieJar implements CookieSource {
  final Map<String, String> cookies = new HashMap<>();

  void apply(List<SetCookie> setCookies) {
    for (SetCookie c : setCookies) {
      if (c.isRemoval()) {
        cookies.remove(c.name());
      } else {
        cookies.put(c.name(), c.value());
      }
    }
  }

  @Override
  public String value(String name) {
    return cookies.get(name);
  }
}
