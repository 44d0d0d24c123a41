package intactkv.figure;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PNG text metadata round-trips through ImageIO, Latin-1 as tEXt and anything else as iTXt. */
class PngTest {
    @TempDir
    Path dir;

    @Test
    void textEntriesRoundTrip() throws Exception {
        BufferedImage img = new BufferedImage(3, 2, BufferedImage.TYPE_INT_RGB);
        img.setRGB(2, 1, 0x123456);
        Map<String, String> text = new LinkedHashMap<>();
        text.put("Title", "Attention, layer 5");
        text.put("Input", "text: Le café est chaud, 東京");
        text.put("Command", "intactkv analyze --model default --text 'a b'\nsecond line");
        Path f = dir.resolve("x.png");
        Png.write(f, img, text);
        assertEquals(text, Png.readText(f));
        assertEquals(0x123456, ImageIO.read(f.toFile()).getRGB(2, 1) & 0xffffff);
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(1, s.count(), "no temporary file left beside the PNG");
        }
        assertThrows(IllegalArgumentException.class, () -> Png.write(dir.resolve("y.png"), img, Map.of("", "v")));
    }
}
