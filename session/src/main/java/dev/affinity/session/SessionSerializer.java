package dev.affinity.session;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * Turns session attribute values into bytes and back. The default is Java serialization restricted
 * by an allow-list ({@link #java(List)}): only JDK value types and collections, plus the classes or
 * packages the application names, are ever written or read.
 */
public interface SessionSerializer {

  /**
   * The value's bytes.
   *
   * @throws IllegalArgumentException when the value (or anything it references) cannot be stored,
   *     naming the class
   */
  byte[] serialize(Object value);

  /**
   * The value again.
   *
   * @throws IllegalArgumentException when the bytes are malformed or name a class that is not allowed
   */
  Object deserialize(byte[] bytes);

  /**
   * Java serialization limited to the JDK's value types and collections ({@code String}, boxed
   * primitives, {@code BigDecimal}/{@code BigInteger}, {@code java.time} values, {@code UUID},
   * {@code Date}, {@code Locale}, {@code ArrayList}, {@code HashMap} and the other {@code java.util}
   * collections, {@code List.of}/{@code Map.of}, arrays of those and of primitives) plus
   * {@code allowed}: class names, or {@code com.example.*} (a package) and {@code com.example.**} (a
   * package and its sub-packages). Everything else is refused both when writing and when reading,
   * with graph depth, array length and reference count limits, so a forged or replayed value cannot
   * construct arbitrary objects.
   */
  static SessionSerializer java(List<String> allowed) {
    return new JavaSessionSerializer(requireNonNull(allowed, "allowed"));
  }

  /** {@link #java(List)} with the JDK types only. */
  static SessionSerializer java() {
    return java(List.of());
  }
}
