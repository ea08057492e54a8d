package org.splice4j.samples;

import java.io.PrintStream;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * {@link Bench}'s progress on stderr, so that stdout carries only the table: before each measurement, which run and
 * which row it is and about how long the bench still needs. On a terminal the line is rewritten in place; otherwise
 * (a file, a CI log) each measurement gets a line of its own.
 *
 * <p>The estimate counts, for each measurement still to come, what that row took in the last run; in the first run,
 * before a row was measured once, the mean of the measurements done so far. Rows differ a lot (the direct row needs
 * no relay JVM, a stock Jetty relay is several times slower than a spliced one), so the per-row figure is what makes
 * later estimates fair.
 */
final class BenchProgress {

    private final int runs;
    private final List<String> rows;
    private final PrintStream out;
    private final boolean terminal;
    private final LongSupplier nanoClock;
    private final Map<String, Long> lastNanos = new HashMap<>();
    private final long startNanos;
    private long doneNanos;
    private int done;
    private long currentStart;
    private String currentRow;
    private String lastLine = "";

    /**
     * @param rows the rows of each run, in the order they are measured
     * @param terminal rewrite one line with {@code \r} instead of printing a line per measurement
     */
    BenchProgress(int runs, List<String> rows, PrintStream out, boolean terminal, LongSupplier nanoClock) {
        this.runs = runs;
        this.rows = List.copyOf(rows);
        this.out = out;
        this.terminal = terminal;
        this.nanoClock = nanoClock;
        this.startNanos = nanoClock.getAsLong();
    }

    /** Says that {@code row} of run {@code run} (1-based) starts. */
    synchronized void starting(int run, String row) {
        currentRow = row;
        currentStart = nanoClock.getAsLong();
        int index = rows.indexOf(row) + 1;
        String left = done == 0 ? "estimating time left" : "~" + duration(nanosLeft(run, index)) + " left";
        show(String.format(Locale.ROOT, "bench: run %d/%d, row %s (%d/%d), %s", run, runs, row, index, rows.size(),
                left));
    }

    /** Says that the measurement {@link #starting} announced is done. */
    synchronized void finished() {
        long took = nanoClock.getAsLong() - currentStart;
        lastNanos.put(currentRow, took);
        doneNanos += took;
        done++;
    }

    /** The last line: how long the whole bench took. */
    synchronized void allDone() {
        show("bench: done in " + duration(nanoClock.getAsLong() - startNanos));
        if (terminal) {
            out.println();
        }
    }

    /**
     * A line a relay's child JVM wrote to its stderr: printed on a line of its own, and on a terminal the progress
     * line drawn again below it, so that neither runs into the other.
     */
    synchronized void childLine(String line) {
        if (terminal) {
            out.print("\r" + line + " ".repeat(Math.max(0, lastLine.length() - line.length())) + "\n");
            out.print(lastLine);
            out.flush();
        } else {
            out.println(line);
        }
    }

    /** The estimated time of the measurement at {@code index} (1-based) of run {@code run} and all after it. */
    synchronized long nanosLeft(int run, int index) {
        long mean = done == 0 ? 0 : doneNanos / done;
        long left = 0;
        for (int r = run; r <= runs; r++) {
            for (int i = r == run ? index - 1 : 0; i < rows.size(); i++) {
                left += lastNanos.getOrDefault(rows.get(i), mean);
            }
        }
        return left;
    }

    private void show(String line) {
        if (terminal) {
            // Spaces over the rest of a longer previous line.
            out.print("\r" + line + " ".repeat(Math.max(0, lastLine.length() - line.length())));
            out.flush();
        } else {
            out.println(line);
        }
        lastLine = line;
    }

    /** 45s, 1m40s, 2h05m: rounded to the second, minutes and hours only once they are there. */
    static String duration(long nanos) {
        long s = Math.round(nanos / 1e9);
        if (s < 60) {
            return s + "s";
        }
        if (s < 3600) {
            return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        }
        return String.format(Locale.ROOT, "%dh%02dm", s / 3600, s % 3600 / 60);
    }
}
