package dev.affinity.session;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InvalidClassException;
import java.io.ObjectInputFilter;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/** {@link SessionSerializer#java}: Java serialization behind an allow-list, both ways. */
final class JavaSessionSerializer implements SessionSerializer {
  static final int MAX_DEPTH = 32;
  static final int MAX_REFERENCES = 100_000;
  static final int MAX_ARRAY_LENGTH = 1_000_000;
  private static final Pattern NAME = Pattern.compile("[A-Za-z_$][A-Za-z0-9_$]*(\\.[A-Za-z_$][A-Za-z0-9_$]*)*(\\.\\*\\*?)?");

  /** JDK classes that are plain values or collections of values; none runs code of its own on reading. */
  private static final Set<String> JDK = Set.of(
      "java.lang.String", "java.lang.Boolean", "java.lang.Character", "java.lang.Byte", "java.lang.Short",
      "java.lang.Integer", "java.lang.Long", "java.lang.Float", "java.lang.Double", "java.lang.Number",
      "java.lang.Enum", "java.lang.Object", "java.util.Map$Entry", "java.math.BigInteger", "java.math.BigDecimal",
      "java.util.ArrayList", "java.util.LinkedList", "java.util.ArrayDeque", "java.util.HashMap",
      "java.util.LinkedHashMap", "java.util.TreeMap", "java.util.HashSet", "java.util.LinkedHashSet",
      "java.util.TreeSet", "java.util.EnumMap", "java.util.UUID", "java.util.Date", "java.util.Locale",
      "java.util.Optional", "java.util.CollSer", "java.util.ImmutableCollections$ListN",
      "java.util.ImmutableCollections$List12", "java.util.ImmutableCollections$SetN",
      "java.util.ImmutableCollections$Set12", "java.util.ImmutableCollections$MapN",
      "java.util.ImmutableCollections$Map1", "java.util.Collections$UnmodifiableList",
      "java.util.Collections$UnmodifiableRandomAccessList", "java.util.Collections$UnmodifiableCollection",
      "java.util.Collections$UnmodifiableSet", "java.util.Collections$UnmodifiableMap",
      "java.util.Collections$EmptyList", "java.util.Collections$EmptyMap", "java.util.Collections$EmptySet",
      "java.util.Collections$SingletonList", "java.util.Collections$SingletonMap", "java.util.Collections$SingletonSet",
      "java.util.Arrays$ArrayList", "java.time.Ser", "java.time.Instant", "java.time.Duration",
      "java.time.LocalDate", "java.time.LocalDateTime", "java.time.LocalTime", "java.time.ZonedDateTime",
      "java.time.OffsetDateTime", "java.time.ZoneOffset", "java.time.ZoneRegion", "java.time.Period",
      "java.time.Year", "java.time.YearMonth", "java.time.MonthDay", "java.time.DayOfWeek", "java.time.Month");

  private final Set<String> exact;
  private final List<String> packages;
  private final List<String> subtrees;

  JavaSessionSerializer(List<String> allowed) {
    Set<String> exact = new java.util.HashSet<>(JDK);
    List<String> packages = new ArrayList<>();
    List<String> subtrees = new ArrayList<>();
    for (String raw : allowed) {
      String entry = raw == null ? "" : raw.trim();
      if (!NAME.matcher(entry).matches()) {
        throw new IllegalArgumentException("allowed session class must be a class name, a package.* or a package.**, got \""
            + raw + "\"");
      }
      if (entry.endsWith(".**")) {
        subtrees.add(entry.substring(0, entry.length() - 2));
      } else if (entry.endsWith(".*")) {
        packages.add(entry.substring(0, entry.length() - 1));
      } else {
        exact.add(entry);
      }
    }
    this.exact = Set.copyOf(exact);
    this.packages = List.copyOf(packages);
    this.subtrees = List.copyOf(subtrees);
  }

  /** The filter for one read; the first class it refused is left in {@code refused[0]}. */
  private ObjectInputFilter filter(String[] refused) {
    return info -> {
      if (info.depth() > MAX_DEPTH || info.references() > MAX_REFERENCES || info.arrayLength() > MAX_ARRAY_LENGTH) {
        refused[0] = "graph limits (depth " + info.depth() + ", references " + info.references() + ", array length "
            + info.arrayLength() + ")";
        return ObjectInputFilter.Status.REJECTED;
      }
      Class<?> type = info.serialClass();
      if (type == null) {
        return ObjectInputFilter.Status.UNDECIDED;
      }
      if (allows(type)) {
        return ObjectInputFilter.Status.ALLOWED;
      }
      if (refused[0] == null) {
        refused[0] = "class " + type.getName();
      }
      return ObjectInputFilter.Status.REJECTED;
    };
  }

  boolean allows(Class<?> type) {
    while (type.isArray()) {
      type = type.getComponentType();
    }
    if (type.isPrimitive()) {
      return true;
    }
    String name = type.getName();
    if (exact.contains(name)) {
      return true;
    }
    if (type.isEnum() || (type.getSuperclass() != null && type.getSuperclass().isEnum())) {
      // Enum constants are resolved by name, never constructed; still only the allowed ones.
      Class<?> declaring = type.isEnum() ? type : type.getSuperclass();
      if (declaring.getName().startsWith("java.time.")) {
        return true;
      }
      name = declaring.getName();
      if (exact.contains(name)) {
        return true;
      }
    }
    String pkg = name.lastIndexOf('.') < 0 ? "" : name.substring(0, name.lastIndexOf('.') + 1);
    if (packages.contains(pkg)) {
      return true;
    }
    for (String subtree : subtrees) {
      if (name.startsWith(subtree)) {
        return true;
      }
    }
    return false;
  }

  @Override
  public byte[] serialize(Object value) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(128);
    try (CheckingOutputStream out = new CheckingOutputStream(bytes)) {
      out.writeObject(value);
    } catch (java.io.NotSerializableException e) {
      throw new IllegalArgumentException("session attribute value is not Serializable: " + e.getMessage(), e);
    } catch (IOException e) {
      throw new IllegalArgumentException("session attribute value cannot be serialized: " + e, e);
    }
    return bytes.toByteArray();
  }

  @Override
  public Object deserialize(byte[] bytes) {
    String[] refused = new String[1];
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes))) {
      in.setObjectInputFilter(filter(refused));
      return in.readObject();
    } catch (InvalidClassException e) {
      throw new IllegalArgumentException("session attribute refused by the class filter: "
          + (refused[0] == null ? e.getMessage() : refused[0] + " is not allowed"), e);
    } catch (IOException | ClassNotFoundException | RuntimeException e) {
      throw new IllegalArgumentException("session attribute cannot be read: " + e, e);
    }
  }

  /** Refuses, while writing, any object whose class the reader would refuse. */
  private final class CheckingOutputStream extends ObjectOutputStream {
    CheckingOutputStream(OutputStream out) throws IOException {
      super(out);
      enableReplaceObject(true);
    }

    @Override
    protected Object replaceObject(Object obj) {
      if (obj != null && !allows(obj.getClass())) {
        throw new IllegalArgumentException("class " + obj.getClass().getName()
            + " is not allowed in a session; allow it with the init-param sessionAllowedClasses"
            + " (class names, package.* or package.**)");
      }
      return obj;
    }
  }

  @Override
  public String toString() {
    return "Java serialization (JDK value types" + (exact.size() > JDK.size() || !packages.isEmpty() || !subtrees.isEmpty()
        ? " + " + (exact.size() - JDK.size()) + " classes, " + packages + ", " + subtrees : "") + ")";
  }
}
