package dev.affinity.jetty;

/** Just enough JSON writing for the admin endpoints: the output is small and its shape fixed. */
final class Json {
  private final StringBuilder sb = new StringBuilder(1024);
  private boolean first = true;

  Json object() {
    comma();
    sb.append('{');
    first = true;
    return this;
  }

  Json endObject() {
    sb.append('}');
    first = false;
    return this;
  }

  Json array() {
    comma();
    sb.append('[');
    first = true;
    return this;
  }

  Json endArray() {
    sb.append(']');
    first = false;
    return this;
  }

  Json key(String key) {
    comma();
    string(key);
    sb.append(':');
    first = true;
    return this;
  }

  Json value(String value) {
    comma();
    if (value == null) {
      sb.append("null");
    } else {
      string(value);
    }
    first = false;
    return this;
  }

  Json value(long value) {
    comma();
    sb.append(value);
    first = false;
    return this;
  }

  /** {@code null} for NaN and infinities (JSON has no such numbers); else rounded to 3 decimals. */
  Json value(double value) {
    comma();
    if (Double.isNaN(value) || Double.isInfinite(value)) {
      sb.append("null");
    } else {
      double rounded = Math.round(value * 1000) / 1000.0;
      if (rounded == Math.rint(rounded) && Math.abs(rounded) < 1e15) {
        sb.append((long) rounded);
      } else {
        sb.append(rounded);
      }
    }
    first = false;
    return this;
  }

  Json value(boolean value) {
    comma();
    sb.append(value);
    first = false;
    return this;
  }

  Json field(String key, String value) {
    return key(key).value(value);
  }

  Json field(String key, long value) {
    return key(key).value(value);
  }

  Json field(String key, boolean value) {
    return key(key).value(value);
  }

  private void comma() {
    if (!first) {
      sb.append(',');
    }
    first = false;
  }

  private void string(String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x2028 || c == 0x2029) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    sb.append('"');
  }

  @Override
  public String toString() {
    return sb.toString();
  }
}
