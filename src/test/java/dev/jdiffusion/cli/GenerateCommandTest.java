package dev.jdiffusion.cli;

import dev.jdiffusion.golden.Golden;
import dev.jdiffusion.image.Images;
import dev.jdiffusion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@code jdiffusion generate} run in-process on the tiny golden model. */
class GenerateCommandTest {
    static final String MODEL = Golden.resolve("models/tiny-sd1").toString();

    static VaeCommandTest.Result run(String... args) { return VaeCommandTest.run(args); }

    static String[] gen(Path out, String... extra) {
        String[] base = {"generate", "-m", MODEL, "-p", "a cabin in the snow", "--steps", "2", "-W", "64", "-H", "48", "--seed", "1234",
                "-o", out.toString()};
        String[] all = Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return all;
    }

    static long files(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.count();
        }
    }

    @Test void writesAPngWithItsParameters(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("out.png");
        VaeCommandTest.Result r = run(gen(out, "-n", "blurry", "--sampler", "dpmpp_2m"));
        assertEquals(0, r.code(), r.err());
        Tensor img = Images.read(out);
        assertArrayEquals(new int[]{1, 3, 48, 64}, img.shape());
        Map<String, String> text = Images.readPngText(out);
        String p = text.get("parameters");
        assertTrue(p != null && p.startsWith("a cabin in the snow\nNegative prompt: blurry\n"), String.valueOf(p));
        assertTrue(p.contains("Seed: 1234") && p.contains("Steps: 2") && p.contains("Sampler: DPM++ 2M,")
 && p.contains("Size: 64x48"), p);
        assertTrue(r.out().contains("seed 1234"), r.out());
        assertTrue(r.err().contains("step 2/2"), r.err());
        // the PNG gets a plain file's mode under the umask (not a private temporary's 0600)
        assertEquals(Files.getPosixFilePermissions(Files.createFile(dir.resolve("plain"))), Files.getPosixFilePermissions(out));
        // same command, same pixels
        Path again = dir.resolve("again.png");
        assertEquals(0, run(gen(again, "-n", "blurry", "--sampler", "dpmpp_2m", "--quiet")).code());
        assertArrayEquals(Images.toUint8(img), Images.toUint8(Images.read(again)));
    }

    @Test void batchWritesNumberedFilesEachWithItsOwnSeed(@TempDir Path dir) throws IOException {
        VaeCommandTest.Result r = run(gen(dir.resolve("out.png"), "--batch", "2", "-q"));
        assertEquals(0, r.code(), r.err());
        assertFalse(Files.exists(dir.resolve("out.png")));
        Tensor a = Images.read(dir.resolve("out-1.png")), b = Images.read(dir.resolve("out-2.png"));
        assertArrayEquals(new int[]{1, 3, 48, 64}, a.shape());
        assertFalse(Arrays.equals(Images.toUint8(a), Images.toUint8(b)));
        assertEquals("", r.err(), "--quiet prints no progress");
        assertTrue(Images.readPngText(dir.resolve("out-1.png")).get("parameters").contains("Seed: 1234,"));
        assertTrue(Images.readPngText(dir.resolve("out-2.png")).get("parameters").contains("Seed: 1235,"));
        // image 2 alone, from the seed its PNG records
        Path alone = dir.resolve("alone.png");
        String[] args = gen(alone, "-q");
        args[Arrays.asList(args).indexOf("--seed") + 1] = "1235";
        assertEquals(0, run(args).code());
        assertArrayEquals(Images.toUint8(b), Images.toUint8(Images.read(alone)), "out-2.png is not reproduced by its recorded seed");
    }

    /** The seed recorded in a PNG's parameters. */
    static long recordedSeed(Path png) throws IOException {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("Seed: (-?\\d+),").matcher(Images.readPngText(png).get("parameters"));
        assertTrue(m.find(), "no seed recorded in " + png);
        return Long.parseLong(m.group(1));
    }

    @Test void seedMinusOneIsRandomAndRecorded(@TempDir Path dir) throws IOException {
        Path a = dir.resolve("a.png"), b = dir.resolve("b.png"), again = dir.resolve("again.png");
        String[] args = gen(a, "-q");
        args[Arrays.asList(args).indexOf("--seed") + 1] = "-1";
        VaeCommandTest.Result r = run(args);
        assertEquals(0, r.code(), r.err());
        long seed = recordedSeed(a);
        assertTrue(r.out().contains("seed " + seed), r.out());
        args[Arrays.asList(args).indexOf("-o") + 1] = b.toString();
        assertEquals(0, run(args).code());
        assertTrue(seed != recordedSeed(b), "two runs with --seed -1 drew the same seed " + seed);
        String[] rerun = gen(again, "-q");
        rerun[Arrays.asList(rerun).indexOf("--seed") + 1] = Long.toString(seed);
        assertEquals(0, run(rerun).code());
        assertArrayEquals(Images.toUint8(Images.read(a)), Images.toUint8(Images.read(again)), "the recorded seed does not reproduce the image");
    }

    @Test void ignoredSettingsAreSaidOnceAndNotRecorded(@TempDir Path dir) throws IOException {
        Path base = Path.of(MODEL), out = dir.resolve("lcm.png");
        VaeCommandTest.Result r = run("generate", "-m", Golden.resolve("models/tiny-lcm").toString(), "--text-encoder",
                base.resolve("text_encoder").toString(), "--vae", base.resolve("vae").toString(), "-p", "a fox", "-n", "blurry",
                "-W", "64", "-H", "64", "--steps", "2", "--seed", "1", "-o", out.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(1, r.err().lines().filter(l -> l.contains("note:")).count(), r.err());
        assertTrue(r.err().contains("note: the negative prompt (-n) is ignored: LCM models run without classifier-free guidance"), r.err());
        assertFalse(Images.readPngText(out).get("parameters").contains("Negative prompt"), "an unused negative prompt was recorded");
        // the lcm sampler on an SD model: says it runs without guidance, and records CFG 1
        r = run(gen(dir.resolve("sd-lcm.png"), "--sampler", "lcm"));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("note: the lcm sampler on this SD1 model (not LCM-distilled) runs without classifier-free guidance (CFG 1)"), r.err());
        assertTrue(Images.readPngText(dir.resolve("sd-lcm.png")).get("parameters").contains("CFG scale: 1.0,"));
        r = run(gen(dir.resolve("sd-lcm-cfg.png"), "--sampler", "lcm", "--cfg", "2"));
        assertFalse(r.err().contains("note:"), r.err());
    }

    @Test void imageToImage(@TempDir Path dir) throws Exception {
        Path init = VaeCommandTest.photo(dir, 64, 48), out = dir.resolve("i2i.png");
        VaeCommandTest.Result r = run("generate", "-m", MODEL, "-p", "a cabin", "--steps", "4", "--seed", "1", "--init-image", init.toString(),
                "--strength", "0.5", "-o", out.toString());
        assertEquals(0, r.code(), r.err());
        assertArrayEquals(new int[]{1, 3, 48, 64}, Images.read(out).shape());
        assertTrue(Images.readPngText(out).get("parameters").contains("Denoising strength: 0.5"));
        assertTrue(r.err().contains("step 2/2") && !r.err().contains("step 3"), "strength 0.5 of 4 steps runs 2: " + r.err());
    }

    /** A folder of links to the tiny model's files except its tokenizer. */
    static Path configsWithoutTokenizer(Path dst) throws IOException { return configsWithout(dst, "tokenizer"); }

    /** A folder of links to the tiny model's files except the named top-level parts. */
    static Path configsWithout(Path dst, String... parts) throws IOException {
        Path src = Path.of(MODEL);
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : s.toList()) {
                Path rel = src.relativize(p);
                if (rel.getNameCount() > 0 && List.of(parts).contains(rel.getName(0).toString())) continue;
                Path t = dst.resolve(rel.toString());
                if (Files.isDirectory(p)) Files.createDirectories(t);
                else Files.createSymbolicLink(t, p.toAbsolutePath());
            }
        }
        return dst;
    }

    @Test void singleFileWithConfigThreadsAndEta(@TempDir Path dir) throws IOException {
        Path a = dir.resolve("a.png"), b = dir.resolve("b.png");
        String file = Golden.resolve("models/tiny-sd1.safetensors").toString();
        // the single file with the folder's configs, no tokenizer anywhere (the bundled one), gives the folder's image
        Path cfg = configsWithoutTokenizer(dir.resolve("cfg"));
        VaeCommandTest.Result r = run("generate", "-m", file, "--config", cfg.toString(), "-p", "a cabin in the snow", "--steps", "2", "-W", "64",
                "-H", "48", "--seed", "1234", "-q", "-o", a.toString());
        assertEquals(0, r.code(), r.err());
        r = run(gen(b, "--threads", "1", "-q"));
        assertEquals(0, r.code(), r.err());
        assertArrayEquals(Images.toUint8(Images.read(a)), Images.toUint8(Images.read(b)), "single file differs from the folder");
        r = run(gen(dir.resolve("eta.png"), "--sampler", "ddim", "--eta", "0.5", "-q"));
        assertEquals(0, r.code(), r.err());
    }

    @Test void helpExitsZero() {
        VaeCommandTest.Result r = run("generate", "--help");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("usage: jdiffusion generate"), r.out());
        assertEquals(0, run("generate", "-h").code());
    }

    /** A bad command line: exit code, one message line naming the problem, then (for usage errors) where help is. */
    static void fails(int code, String expect, Path dir, String... args) throws IOException {
        long before = files(dir);
        VaeCommandTest.Result r = run(args);
        assertEquals(code, r.code(), String.join(" ", args) + "\n" + r.err());
        String first = r.err().lines().findFirst().orElse("");
        assertTrue(first.startsWith("jdiffusion generate: ") && first.contains(expect), "first line '" + first + "' should say " + expect);
        if (code == 2) assertEquals(List.of(first, "see 'jdiffusion generate --help'"), r.err().lines().toList(),
                "a usage error is its line and the help hint, not the whole usage");
        else assertEquals(1, r.err().lines().count(), "more than one line: " + r.err());
        assertEquals(before, files(dir), "a failed run wrote a file: " + String.join(" ", args));
        assertEquals("", r.out());
    }

    @Test void badOptionsFailCleanlyAndWriteNothing(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("out.png");
        fails(2, "unknown sampler 'plms'", dir, gen(out, "--sampler", "plms"));
        fails(2, "--steps", dir, gen(out, "--steps", "0"));
        fails(2, "--steps", dir, gen(out, "--steps", "-3"));
        fails(2, "--steps must be an integer", dir, gen(out, "--steps", "many"));
        fails(2, "-W/--width must be a multiple of 8", dir, gen(out, "-W", "100"));
        fails(2, "-W/--width must be a multiple of 8 between 8 and 4096, got 0", dir, gen(out, "-W", "0"));
        fails(2, "-W/--width", dir, gen(out, "-W", "-64"));
        fails(2, "-H/--height", dir, gen(out, "-H", "0"));
        fails(2, "--steps must be between 1 and", dir, gen(out, "--steps", "0"));
        fails(2, "--clip-skip must be between 1 and 12", dir, gen(out, "--clip-skip", "0"));
        fails(2, "--batch must be between 1 and", dir, gen(out, "--batch", "-1"));
        fails(2, "--strength needs --init-image", dir, gen(out, "--strength", "0.5"));
        Path init = VaeCommandTest.photo(dir, 64, 48);
        fails(2, "strength", dir, gen(out, "--init-image", init.toString(), "--strength", "2"));
        fails(2, "batch", dir, gen(out, "--batch", "0"));
        fails(2, "--cfg must be a number", dir, gen(out, "--cfg", "NaN"));
        fails(2, "--cfg must be between 0 and 100", dir, gen(out, "--cfg", "-2"));
        fails(2, "missing --prompt", dir, "generate", "-m", MODEL, "-o", out.toString());
        fails(2, "missing --model", dir, "generate", "-p", "x", "-o", out.toString());
        fails(2, "unknown option --colour", dir, gen(out, "--colour", "red"));
        fails(2, "unexpected argument 'extra'", dir, gen(out, "extra"));
        fails(2, "option --seed needs a value", dir, gen(out, "--seed"));
        fails(2, "output folder does not exist", dir, gen(dir.resolve("no/such/dir/out.png")));
        fails(2, "no such model", dir, "generate", "-m", dir.resolve("missing-model").toString(), "-p", "x", "-o", out.toString());
        fails(2, "--fast-decode needs --taesd", dir, gen(out, "--fast-decode"));
        fails(2, "--eta applies to the ddim sampler only", dir, gen(out, "--eta", "0.5"));
        fails(2, "--eta applies to the ddim sampler only", dir, gen(out, "--eta", "0.5", "--sampler", "euler"));
        fails(2, "eta", dir, gen(out, "--eta", "2", "--sampler", "ddim"));
        // the output is an existing folder
        Path folder = Files.createDirectory(dir.resolve("folder.png"));
        fails(2, "is a folder", dir, gen(folder));
        Files.createDirectory(dir.resolve("b-2.png"));
        fails(2, "is a folder", dir, gen(dir.resolve("b.png"), "--batch", "2"));
        // model problems are exit code 1 with one line
        Path broken = Files.createDirectory(dir.resolve("broken-model"));
        fails(1, "broken-model", dir, "generate", "-m", broken.toString(), "-p", "x", "-o", out.toString());
        // the tiny single file's text encoder (hidden size 32) cannot be described by its shapes: the error names --config
        fails(1, "--config", dir, "generate", "-m", Golden.resolve("models/tiny-sd1.safetensors").toString(), "-p", "x",
                "-o", out.toString());
        // an unreadable init image
        Path bad = Files.writeString(dir.resolve("bad.png"), "nope");
        fails(1, "bad.png", dir, gen(out, "--init-image", bad.toString()));
        // a truncated JPEG init image (ImageIO would read it with grey rows)
        Path jpg = dir.resolve("whole.jpg"), cut = dir.resolve("cut.jpg");
        assertEquals(0, run(gen(jpg, "-q")).code());
        byte[] bytes = Files.readAllBytes(jpg);
        Files.write(cut, Arrays.copyOf(bytes, bytes.length / 2));
        fails(1, "cut.jpg: damaged or truncated image", dir, gen(out, "--init-image", cut.toString()));
        Files.delete(jpg);
        Files.delete(cut);
        // output names: only image types it writes
        fails(2, "-o " + dir.resolve("out.webp") + ": unknown image type; give a .png or .jpg name", dir, gen(dir.resolve("out.webp")));
        fails(2, "--preview", dir, gen(out, "--preview", dir.resolve("p.gif").toString()));
        // several model parts missing: all named at once; a text file as the model
        Path parts = configsWithout(dir.resolve("parts"), "text_encoder", "vae");
        fails(1, "missing text encoder (pass --text-encoder PATH), VAE (pass a VAE with --vae or a TAESD decoder with --taesd)", dir,
                "generate", "-m", parts.toString(), "-p", "x", "-o", out.toString());
        Path notes = Files.writeString(dir.resolve("notes.txt"), "my favourite prompts\n");
        fails(1, "not a safetensors file", dir, "generate", "-m", notes.toString(), "-p", "x", "-o", out.toString());
        // a decoder of other latents (TAEF2: FLUX's) is refused at load, naming the option
        Path taef2 = Golden.dir().getParent().resolve("weights/taef2");
        if (Files.isDirectory(taef2)) {
            fails(1, "--taesd " + taef2 + ": an autoencoder of ", dir, gen(out, "--taesd", taef2.toString(), "--fast-decode"));
            fails(1, "does not fit this model's 4-channel latents", dir, gen(out, "--vae", taef2.toString()));
        }
        assertFalse(Files.exists(out));
    }

    @Test void initImagesOfAnotherSizeAreResized(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("o.png");
        VaeCommandTest.Result r = run("generate", "-m", MODEL, "-p", "x", "--steps", "2", "-W", "64", "-H", "64",
                "--init-image", VaeCommandTest.photo(dir, 64, 48).toString(), "-o", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("is 64x48; resized to 64x64 (-W/-H)"), r.err());
        assertArrayEquals(new int[]{1, 3, 64, 64}, Images.read(out).shape());
        r = run("generate", "-m", MODEL, "-p", "x", "--steps", "2", "--init-image", VaeCommandTest.photo(dir, 60, 50).toString(),
                "-o", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("is 60x50; resized to 56x48 (sides must be multiples of 8)"), r.err());
        assertArrayEquals(new int[]{1, 3, 48, 56}, Images.read(out).shape());
    }

    @Test void jpegOutputAndPreviews(@TempDir Path dir) throws Exception {
        Path jpg = dir.resolve("out.jpg"), png = dir.resolve("out.png"), preview = dir.resolve("step.png");
        VaeCommandTest.Result r = run(gen(jpg, "-q"));
        assertEquals(0, r.code(), r.err());
        byte[] b = Files.readAllBytes(jpg);
        assertTrue((b[0] & 0xff) == 0xff && (b[1] & 0xff) == 0xd8, "not a JPEG");
        assertTrue(new String(b, StandardCharsets.ISO_8859_1).contains("Seed: 1234"), "the parameters are not in the JPEG");
        assertEquals(0, run(gen(png, "-q")).code());
        Path other = dir.resolve("other.png");
        String[] otherSeed = gen(other, "-q");
        otherSeed[Arrays.asList(otherSeed).indexOf("--seed") + 1] = "99";
        assertEquals(0, run(otherSeed).code());
        Tensor fromJpeg = Images.read(jpg), fromPng = Images.read(png);
        assertArrayEquals(fromPng.shape(), fromJpeg.shape());
        // the tiny model's images are mostly noise, which JPEG keeps worst: the JPEG must still be far nearer its
        // PNG than another seed's image is
        double jpegErr = meanAbsDiff(fromPng, fromJpeg), otherErr = meanAbsDiff(fromPng, Images.read(other));
        assertTrue(jpegErr < otherErr / 2, "the JPEG is not the image: mean abs diff " + jpegErr + ", another seed's " + otherErr);
        // --taesd alone says it changes nothing; with --preview each step's image is written
        String taesd = Golden.resolve("models/taesd").toString();
        r = run(gen(dir.resolve("t.png"), "--taesd", taesd));
        assertEquals(0, r.code(), r.err());
        assertEquals(1, r.err().lines().filter(l -> l.contains("--taesd alone changes nothing here")).count(), r.err());
        r = run(gen(dir.resolve("p.png"), "--taesd", taesd, "--preview", preview.toString()));
        assertEquals(0, r.code(), r.err());
        assertFalse(r.err().contains("note:"), r.err());
        assertArrayEquals(new int[]{1, 3, 48, 64}, Images.read(preview).shape());
    }

    static double meanAbsDiff(Tensor a, Tensor b) {
        double d = 0;
        for (int i = 0; i < a.numel(); i++) d += Math.abs(a.data()[i] - b.data()[i]);
        return d / a.numel();
    }

    /** An output that cannot be created fails before the generation, naming the output, not a temporary file. */
    @Test void unwritableOutputFailsBeforeGenerating(@TempDir Path dir) throws IOException {
        Path proc = Path.of("/proc/jdiffusion-out.png");
        assumeTrue(Files.isDirectory(proc.getParent()), "no /proc");
        VaeCommandTest.Result r = run(gen(proc));
        assertTrue(r.code() == 1 || r.code() == 2, r.err());
        String first = r.err().lines().findFirst().orElse("");
        assertTrue(first.contains(proc.toString()) || first.contains("not writable"), r.err());
        assertFalse(r.err().contains(".tmp"), "names a temporary file: " + r.err());
        assertFalse(r.err().contains("loaded") || r.err().contains("step"), "the generation ran: " + r.err());
    }

    @Test void unwritableOutputFolder(@TempDir Path dir) throws IOException {
        Path ro = Files.createDirectory(dir.resolve("ro"));
        assertTrue(ro.toFile().setWritable(false));
        try {
            if (Files.isWritable(ro)) return; // running as root: permissions are not enforced
            fails(2, "not writable", ro, gen(ro.resolve("out.png")));
        } finally {
            ro.toFile().setWritable(true);
        }
    }
}
