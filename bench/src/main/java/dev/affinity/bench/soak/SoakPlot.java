package dev.affinity.bench.soak;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;
import javax.imageio.ImageIO;

/** The soak's curves as one PNG (Java2D, headless): one panel per figure, x = interval. */
final class SoakPlot {
  private static final int WIDTH = 900;
  private static final int PANEL_HEIGHT = 170;
  private static final int LEFT = 80;
  private static final int RIGHT = 20;
  private static final int TOP = 28;
  private static final int BOTTOM = 22;

  private SoakPlot() {
  }

  /** {@code top}: a fixed top of the scale (a percentage), or 0 to scale on the data. */
  private record Panel(String title, ToDoubleFunction<Soak.Interval> value, double top) {
  }

  static void write(Soak.Result r, Path file) throws IOException {
    System.setProperty("java.awt.headless", "true");
    List<Panel> panels = List.of(
        new Panel("balancer heap after full GC (MB)", i -> i.heapAfterFullGcKb() / 1024.0, 0),
        new Panel("balancer threads (median of 1 s samples)", i -> i.threads(), 0),
        new Panel("balancer open file descriptors (median of 1 s samples)", i -> i.fds(), 0),
        new Panel("balancer RSS (MB)", i -> i.rssKb() / 1024.0, 0),
        new Panel("sticky GET p99 (ms, from the scheduled time)", i -> i.traffic().get(Kind.STICKY_GET).quantileMillis(0.99), 0),
        new Panel("machine idle (%; the goal is at least 30)", Soak.Interval::idlePercent, 100));
    BufferedImage image = new BufferedImage(WIDTH, PANEL_HEIGHT * panels.size() + 30, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, image.getWidth(), image.getHeight());
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    g.setColor(Color.BLACK);
    Soak.Settings s = r.settings();
    g.drawString(String.format(Locale.ROOT, "Affinity soak: %s, %.0f req/s scheduled, a target killed every %s; x: interval of %s",
        s.duration(), s.rate(), s.churnEvery(), s.interval()), LEFT, 18);
    for (int p = 0; p < panels.size(); p++) {
      draw(g, panels.get(p), r.intervals(), 30 + p * PANEL_HEIGHT, s.baseline());
    }
    g.dispose();
    ImageIO.write(image, "png", file.toFile());
  }

  private static void draw(Graphics2D g, Panel panel, List<Soak.Interval> intervals, int y0, int baseline) {
    int plotTop = y0 + TOP;
    int plotHeight = PANEL_HEIGHT - TOP - BOTTOM;
    int plotWidth = WIDTH - LEFT - RIGHT;
    double max = 0;
    for (Soak.Interval i : intervals) {
      double v = panel.value().applyAsDouble(i);
      if (!Double.isNaN(v)) {
        max = Math.max(max, v);
      }
    }
    double low = 0;
    double high = panel.top() > 0 ? panel.top() : max <= low ? low + 1 : max * 1.1;
    g.setColor(Color.BLACK);
    g.drawString(panel.title(), LEFT, y0 + 18);
    g.setColor(new Color(0xDDDDDD));
    for (int t = 0; t <= 4; t++) {
      int y = plotTop + plotHeight - t * plotHeight / 4;
      g.drawLine(LEFT, y, LEFT + plotWidth, y);
      g.setColor(Color.DARK_GRAY);
      g.drawString(String.format(Locale.ROOT, "%.1f", low + (high - low) * t / 4), 8, y + 4);
      g.setColor(new Color(0xDDDDDD));
    }
    int n = intervals.size();
    ToXPixel x = i -> LEFT + (n <= 1 ? plotWidth / 2 : (i - 1) * plotWidth / (n - 1));
    g.setColor(Color.DARK_GRAY);
    for (Soak.Interval i : intervals) {
      if (n <= 30 || i.index() % 5 == 0 || i.index() == 1) {
        g.drawString(Integer.toString(i.index()), x.at(i.index()) - 4, plotTop + plotHeight + 15);
      }
    }
    if (baseline <= n) {
      g.setColor(new Color(0xFFCC88));
      g.drawLine(x.at(baseline), plotTop, x.at(baseline), plotTop + plotHeight);
    }
    g.setColor(new Color(0x1F77B4));
    g.setStroke(new BasicStroke(2f));
    int px = -1;
    int py = -1;
    for (Soak.Interval i : intervals) {
      double v = panel.value().applyAsDouble(i);
      if (Double.isNaN(v)) {
        px = -1;
        continue;
      }
      int cx = x.at(i.index());
      int cy = plotTop + plotHeight - (int) Math.round((v - low) / (high - low) * plotHeight);
      if (px >= 0) {
        g.drawLine(px, py, cx, cy);
      }
      g.fillOval(cx - 3, cy - 3, 6, 6);
      px = cx;
      py = cy;
    }
    g.setStroke(new BasicStroke(1f));
  }

  private interface ToXPixel {
    int at(int interval);
  }
}
