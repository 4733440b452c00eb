package dev.affinity.cookie;

import java.util.Locale;

/** The {@code SameSite} cookie attribute. */
public enum SameSite {
  STRICT("Strict"),
  LAX("Lax"),
  NONE("None");

  private final String attributeValue;

  SameSite(String attributeValue) {
    this.attributeValue = attributeValue;
  }

  /** As written in a {@code Set-Cookie} header: {@code Strict}, {@code Lax} or {@code None}. */
  public String attributeValue() {
    return attributeValue;
  }

  /** Parses {@code Strict}, {@code Lax} or {@code None}, in any case. */
  public static SameSite parse(String value) {
    if (value != null) {
      switch (value.trim().toLowerCase(Locale.ROOT)) {
        case "strict":
          return STRICT;
        case "lax":
          return LAX;
        case "none":
          return NONE;
        default:
          break;
      }
    }
    throw new IllegalArgumentException("sameSite must be one of Strict, Lax, None; got \"" + value + "\"");
  }
}
