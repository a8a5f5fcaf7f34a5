"""The simulated market's universe: real US tickers, with a plausible price level and volatility.

``base_price`` is the level the simulation starts from on its epoch; ``annual_vol`` the yearly
volatility of its daily log returns; ``annual_drift`` the yearly expected log return.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    LARGE_CAP = "large_cap"
    SECTOR_ETF = "sector_etf"
    BROAD_ETF = "broad_etf"
    BOND_ETF = "bond_etf"
    GOLD_ETF = "gold_etf"
    CRYPTO_STOCK = "crypto_stock"
    CRYPTO_ETF = "crypto_etf"
    INNOVATION = "innovation"


@dataclass(frozen=True)
class Instrument:
    symbol: str
    name: str
    category: Category
    base_price: float
    annual_vol: float
    annual_drift: float = 0.06


C = Category
INSTRUMENTS: tuple[Instrument, ...] = (
    # Large caps
    Instrument("AAPL", "Apple", C.LARGE_CAP, 190.0, 0.26, 0.10),
    Instrument("MSFT", "Microsoft", C.LARGE_CAP, 410.0, 0.24, 0.10),
    Instrument("NVDA", "NVIDIA", C.LARGE_CAP, 120.0, 0.50, 0.18),
    Instrument("AMZN", "Amazon", C.LARGE_CAP, 180.0, 0.32, 0.10),
    Instrument("GOOGL", "Alphabet", C.LARGE_CAP, 165.0, 0.30, 0.09),
    Instrument("META", "Meta Platforms", C.LARGE_CAP, 500.0, 0.38, 0.10),
    Instrument("BRK.B", "Berkshire Hathaway B", C.LARGE_CAP, 420.0, 0.16, 0.08),
    Instrument("JPM", "JPMorgan Chase", C.LARGE_CAP, 200.0, 0.24, 0.07),
    Instrument("JNJ", "Johnson & Johnson", C.LARGE_CAP, 155.0, 0.17, 0.04),
    Instrument("KO", "Coca-Cola", C.LARGE_CAP, 62.0, 0.15, 0.04),
    Instrument("PG", "Procter & Gamble", C.LARGE_CAP, 165.0, 0.16, 0.05),
    Instrument("XOM", "Exxon Mobil", C.LARGE_CAP, 115.0, 0.27, 0.04),
    Instrument("WMT", "Walmart", C.LARGE_CAP, 70.0, 0.20, 0.08),
    Instrument("V", "Visa", C.LARGE_CAP, 275.0, 0.20, 0.08),
    Instrument("UNH", "UnitedHealth", C.LARGE_CAP, 520.0, 0.26, 0.06),
    Instrument("TSLA", "Tesla", C.INNOVATION, 220.0, 0.60, 0.10),
    Instrument("PLTR", "Palantir", C.INNOVATION, 40.0, 0.65, 0.15),
    Instrument("SHOP", "Shopify", C.INNOVATION, 75.0, 0.55, 0.10),
    Instrument("ROKU", "Roku", C.INNOVATION, 65.0, 0.60, 0.05),
    Instrument("ARKK", "ARK Innovation ETF", C.INNOVATION, 50.0, 0.45, 0.06),
    # Broad and sector ETFs
    Instrument("SPY", "SPDR S&P 500 ETF", C.BROAD_ETF, 550.0, 0.17, 0.08),
    Instrument("QQQ", "Invesco QQQ", C.BROAD_ETF, 470.0, 0.22, 0.10),
    Instrument("IWM", "iShares Russell 2000", C.BROAD_ETF, 210.0, 0.24, 0.06),
    Instrument("EFA", "iShares MSCI EAFE", C.BROAD_ETF, 80.0, 0.17, 0.05),
    Instrument("EEM", "iShares MSCI Emerging Markets", C.BROAD_ETF, 43.0, 0.20, 0.04),
    Instrument("XLE", "Energy Select Sector SPDR", C.SECTOR_ETF, 90.0, 0.27, 0.04),
    Instrument("XLF", "Financial Select Sector SPDR", C.SECTOR_ETF, 42.0, 0.21, 0.06),
    Instrument("XLK", "Technology Select Sector SPDR", C.SECTOR_ETF, 220.0, 0.24, 0.11),
    Instrument("XLV", "Health Care Select Sector SPDR", C.SECTOR_ETF, 145.0, 0.16, 0.05),
    Instrument("XLU", "Utilities Select Sector SPDR", C.SECTOR_ETF, 70.0, 0.17, 0.04),
    Instrument("VNQ", "Vanguard Real Estate ETF", C.SECTOR_ETF, 88.0, 0.22, 0.04),
    # Bonds, gold, commodities
    Instrument("TLT", "iShares 20+ Year Treasury Bond", C.BOND_ETF, 92.0, 0.15, 0.01),
    Instrument("IEF", "iShares 7-10 Year Treasury Bond", C.BOND_ETF, 95.0, 0.07, 0.02),
    Instrument("SHY", "iShares 1-3 Year Treasury Bond", C.BOND_ETF, 82.0, 0.02, 0.03),
    Instrument("LQD", "iShares Investment Grade Corporate Bond", C.BOND_ETF, 108.0, 0.09, 0.03),
    Instrument("TIP", "iShares TIPS Bond", C.BOND_ETF, 108.0, 0.06, 0.02),
    Instrument("GLD", "SPDR Gold Shares", C.GOLD_ETF, 220.0, 0.14, 0.05),
    Instrument("DBC", "Invesco DB Commodity Index", C.GOLD_ETF, 22.0, 0.18, 0.02),
    # Crypto exposure through stocks and ETFs
    Instrument("COIN", "Coinbase", C.CRYPTO_STOCK, 230.0, 0.75, 0.10),
    Instrument("MSTR", "MicroStrategy", C.CRYPTO_STOCK, 160.0, 0.85, 0.12),
    Instrument("MARA", "MARA Holdings", C.CRYPTO_STOCK, 20.0, 0.85, 0.05),
    Instrument("RIOT", "Riot Platforms", C.CRYPTO_STOCK, 10.0, 0.85, 0.05),
    Instrument("HOOD", "Robinhood Markets", C.CRYPTO_STOCK, 22.0, 0.60, 0.10),
    Instrument("IBIT", "iShares Bitcoin Trust", C.CRYPTO_ETF, 38.0, 0.55, 0.12),
    Instrument("FBTC", "Fidelity Wise Origin Bitcoin Fund", C.CRYPTO_ETF, 58.0, 0.55, 0.12),
    Instrument("ETHA", "iShares Ethereum Trust", C.CRYPTO_ETF, 20.0, 0.70, 0.08),
)

BY_SYMBOL: dict[str, Instrument] = {i.symbol: i for i in INSTRUMENTS}


def symbols_in(*categories: Category) -> list[str]:
    """Symbols of the given categories, in universe order."""
    return [i.symbol for i in INSTRUMENTS if i.category in categories]
