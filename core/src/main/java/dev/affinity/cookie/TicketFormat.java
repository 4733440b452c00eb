package dev.affinity.cookie;

import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * The plaintext inside a sealed token:
 * {@code 0x00 | issuedAt ms (8) | expiresAt ms (8) | len(1) targetId | len(1) group | varint len extra}.
 * Decoding is strict (exact length, valid UTF-8 lengths) because a plaintext that does not parse is
 * only ever a bug or a forgery that beat the tag.
 */
final class TicketFormat {
  private static final byte LAYOUT = 0;
  static final int MIN_BYTES = 1 + 8 + 8 + 1 + 1 + 1;

  private TicketFormat() {}

  static byte[] encode(AffinityTicket ticket) {
    byte[] target = ticket.targetId().getBytes(StandardCharsets.UTF_8);
    byte[] group = ticket.targetGroup().getBytes(StandardCharsets.UTF_8);
    checkIdLength("targetId", ticket.targetId(), target.length);
    checkIdLength("targetGroup", ticket.targetGroup(), group.length);
    int extra = ticket.extraLength();
    byte[] out = new byte[1 + 16 + 1 + target.length + 1 + group.length + varintSize(extra) + extra];
    int p = 0;
    out[p++] = LAYOUT;
    p = putLong(out, p, ticket.issuedAt().toEpochMilli());
    p = putLong(out, p, ticket.expiresAt().toEpochMilli());
    out[p++] = (byte) target.length;
    System.arraycopy(target, 0, out, p, target.length);
    p += target.length;
    out[p++] = (byte) group.length;
    System.arraycopy(group, 0, out, p, group.length);
    p += group.length;
    int v = extra;
    while ((v & ~0x7F) != 0) {
      out[p++] = (byte) ((v & 0x7F) | 0x80);
      v >>>= 7;
    }
    out[p++] = (byte) v;
    System.arraycopy(ticket.extraUnsafe(), 0, out, p, extra);
    return out;
  }

  /** The ticket, or {@code null} when the bytes are not exactly one well-formed ticket. */
  static AffinityTicket decode(byte[] in) {
    if (in.length < MIN_BYTES || in[0] != LAYOUT) {
      return null;
    }
    int p = 1;
    long issued = getLong(in, p);
    long expires = getLong(in, p + 8);
    p += 16;
    int targetLength = in[p++] & 0xFF;
    if (targetLength == 0 || p + targetLength >= in.length) {
      return null;
    }
    String target = new String(in, p, targetLength, StandardCharsets.UTF_8);
    p += targetLength;
    int groupLength = in[p++] & 0xFF;
    if (p + groupLength >= in.length) {
      return null;
    }
    String group = new String(in, p, groupLength, StandardCharsets.UTF_8);
    p += groupLength;
    int extraLength = 0;
    for (int shift = 0; ; shift += 7) {
      if (p >= in.length || shift > 28) {
        return null;
      }
      byte b = in[p++];
      extraLength |= (b & 0x7F) << shift;
      if (b >= 0) {
        break;
      }
    }
    if (extraLength < 0 || in.length - p != extraLength || expires < issued) {
      return null;
    }
    byte[] extra = new byte[extraLength];
    System.arraycopy(in, p, extra, 0, extraLength);
    return AffinityTicket.owning(target, group, Instant.ofEpochMilli(issued), Instant.ofEpochMilli(expires), extra);
  }

  private static void checkIdLength(String what, String value, int length) {
    if (length > AffinityTicket.MAX_ID_BYTES) {
      throw new IllegalArgumentException(what + " must be at most " + AffinityTicket.MAX_ID_BYTES
          + " bytes of UTF-8, got " + length + ": " + value.substring(0, Math.min(40, value.length())) + "…");
    }
  }

  private static int varintSize(int v) {
    int size = 1;
    while ((v & ~0x7F) != 0) {
      v >>>= 7;
      size++;
    }
    return size;
  }

  private static int putLong(byte[] out, int p, long v) {
    for (int i = 7; i >= 0; i--) {
      out[p++] = (byte) (v >>> (8 * i));
    }
    return p;
  }

  private static long getLong(byte[] in, int p) {
    long v = 0;
    for (int i = 0; i < 8; i++) {
      v = (v << 8) | (in[p + i] & 0xFF);
    }
    return v;
  }
}
